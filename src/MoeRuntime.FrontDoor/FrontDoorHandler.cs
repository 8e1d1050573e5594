using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Telemetry.Security;

namespace MoeRuntime.FrontDoor;

/// <summary>
/// The OpenAI endpoints: authenticates the key to a tenant, reads and checks the body, applies the tenant's limits,
/// runs the choices on the backend and answers as JSON or as server-sent events flushed per token.
/// </summary>
public sealed class FrontDoorHandler
{
    static readonly byte[] DataPrefix = "data: "u8.ToArray();
    static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    readonly IInferenceBackend _backend;
    readonly TenantDirectory _tenants;
    readonly FrontDoorOptions _options;
    readonly ILogger<FrontDoorHandler> _logger;
    readonly TenantPseudonyms _pseudonyms;

    public FrontDoorHandler(IInferenceBackend backend, TenantDirectory tenants, IOptions<FrontDoorOptions> options, TenantPseudonyms pseudonyms, ILogger<FrontDoorHandler> logger)
    {
        _pseudonyms = pseudonyms;
        _backend = backend;
        _tenants = tenants;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>The pseudonym a tenant appears under in logs: the router's, keyed by the cluster's pseudonym key.</summary>
    string Pseudonym(string tenant) => _pseudonyms.Of(tenant);

    public async Task ModelsAsync(HttpContext http)
    {
        try
        {
            Authenticate(http.Request);
            IReadOnlyList<ServedModel> models = await _backend.ListModelsAsync(http.RequestAborted);
            await WriteJsonAsync(http, 200, new OpenAiJson().Models(models, Created()));
        }
        catch (Exception) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client is gone; there is no one to answer.
        }
        catch (Exception e)
        {
            await WriteErrorAsync(http, Refusal(e, "model"), "-");
        }
    }

    public async Task CompleteAsync(HttpContext http, bool chat)
    {
        string tenantName = "-";
        string requestId = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        string promptParam = chat ? "messages" : "prompt";
        var json = new OpenAiJson();
        try
        {
            Tenant tenant = Authenticate(http.Request);
            tenantName = tenant.Name;
            OpenAiRequest request = OpenAiRequest.Parse(await ReadBodyAsync(http), chat);
            CancellationToken aborted = http.RequestAborted;
            if (request.Logprobs && !_backend.SupportsLogprobs)
                throw OpenAiError.BadRequest("logprobs are not available from this server yet: the token stream does not carry them", "logprobs", "unsupported_parameter");
            if (request.N > _options.MaxChoices)
                throw OpenAiError.BadRequest($"n must be at most {_options.MaxChoices} here (got {request.N})", "n");
            ServedModel model = (await _backend.ListModelsAsync(aborted)).FirstOrDefault(m => m.Id == request.Model)
                ?? throw new OpenAiError(404, $"The model '{request.Model}' does not exist or is not served here", "invalid_request_error", "model", "model_not_found");
            List<string> prompts = chat ? [await _backend.RenderChatAsync(model.Id, request.Messages, aborted)] : request.Prompts;
            var promptIds = new int[prompts.Count][];
            var promptTokens = new int[prompts.Count];
            var maxTokens = new int[prompts.Count];
            long reserve = 0;
            for (int p = 0; p < prompts.Count; p++)
            {
                // Tokenized once: the count serves the limits and usage here, the ids go to the backend.
                promptIds[p] = await _backend.EncodePromptAsync(model.Id, prompts[p], chat, aborted);
                promptTokens[p] = promptIds[p].Length;
                if (promptTokens[p] >= model.ContextLength)
                    throw new OpenAiError(413, $"The {promptParam} is {promptTokens[p]} tokens; model '{model.Id}' has a context of {model.ContextLength} tokens",
                        "invalid_request_error", promptParam, "context_length_exceeded");
                // A request that would run past the context is cut there and reported as "length", as the model cannot go on.
                maxTokens[p] = Math.Min(request.MaxTokens ?? _options.DefaultMaxTokens, model.ContextLength - promptTokens[p]);
                reserve += (long)(promptTokens[p] + maxTokens[p]) * request.N;
            }
            using Admission admission = tenant.Admit((int)Math.Min(reserve, int.MaxValue));
            if (!admission.IsAdmitted)
            {
                _backend.TenantOverLimit();
                throw new OpenAiError(429, admission.Reason!, "rate_limit_exceeded", null, "rate_limit_exceeded", admission.RetryAfter);
            }

            string[] stops = request.Stop.Where(s => s.Length > 0).ToArray();
            var calls = new List<(GenerationCall Call, int Index)>();
            for (int p = 0; p < prompts.Count; p++)
                for (int i = 0; i < request.N; i++)
                    calls.Add((new GenerationCall
                    {
                        Model = model.Id, Prompt = prompts[p], PromptTokenIds = promptIds[p], Stops = stops, Chat = chat, Tenant = tenant.Name,
                        RequestId = calls.Count == 0 ? requestId : $"{requestId}-{calls.Count}",
                        MaxTokens = maxTokens[p], Temperature = request.Temperature, TopP = request.TopP, TopK = request.TopK,
                        Seed = request.Seed is ulong seed ? unchecked(seed + (ulong)i) : null,
                        Logprobs = request.Logprobs, TopLogprobs = request.TopLogprobs, IgnoreEos = request.IgnoreEos,
                    }, calls.Count));
            var header = new ResponseHeader(requestId, chat, Created(), model.Id, request.IncludeUsage);
            int prompt = 0;
            for (int p = 0; p < prompts.Count; p++) prompt += promptTokens[p] * request.N;

            ChoiceResult[] results;
            if (request.Stream)
            {
                // The headers go with the first token, so a refusal by the backend before it still gets its own status.
                var stream = new SseStream(http, json, header, calls.Count);
                results = await RunAllAsync(calls, request.Stop, stream.DeltaAsync, collect: false, aborted);
                await stream.FinishAsync(results, new Usage(prompt, results.Sum(r => r.CompletionTokens)), aborted);
            }
            else
            {
                results = await RunAllAsync(calls, request.Stop, null, collect: true, aborted);
                await WriteJsonAsync(http, 200, json.Response(header, results, new Usage(prompt, results.Sum(r => r.CompletionTokens))));
            }
            FrontDoorLog.Completed(_logger, requestId, Pseudonym(tenant.Name), results.Length, prompt, results.Sum(r => r.CompletionTokens));
        }
        catch (Exception) when (http.RequestAborted.IsCancellationRequested)
        {
            FrontDoorLog.ClientGone(_logger, requestId, Pseudonym(tenantName));
        }
        catch (Exception e)
        {
            OpenAiError error = Refusal(e, promptParam);
            if (error.Status >= 500) FrontDoorLog.Failed(_logger, e, requestId);
            else FrontDoorLog.Refused(_logger, error.Status, error.Code, tenantName == "-" ? "-" : Pseudonym(tenantName), error.Message);
            if (!http.Response.HasStarted) await WriteErrorAsync(http, error, tenantName);
            else await SseStream.ErrorAsync(http, json, error);
        }
    }

    async Task<ChoiceResult[]> RunAllAsync(List<(GenerationCall Call, int Index)> calls, IReadOnlyList<string> stops,
        Func<ChoiceDelta, ValueTask>? onDelta, bool collect, CancellationToken cancellationToken)
    {
        if (calls.Count == 1) return [await ChoiceRunner.RunAsync(_backend, calls[0].Call, 0, stops, onDelta, collect, cancellationToken)];
        // Several choices run side by side (the backend batches them); the first failure cancels the others.
        using var all = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task<ChoiceResult>[] tasks = calls.Select(async c =>
        {
            try
            {
                return await ChoiceRunner.RunAsync(_backend, c.Call, c.Index, stops, onDelta, collect, all.Token);
            }
            catch
            {
                await all.CancelAsync();
                throw;
            }
        }).ToArray();
        try
        {
            return await Task.WhenAll(tasks);
        }
        catch
        {
            // The first real failure, not the cancellations it caused.
            Exception? first = tasks.Where(t => t.IsFaulted).Select(t => t.Exception!.GetBaseException()).FirstOrDefault(e => e is not OperationCanceledException);
            if (first is not null) throw first;
            throw;
        }
    }

    Tenant Authenticate(HttpRequest request)
    {
        string header = request.Headers.Authorization.ToString();
        string? key = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null;
        return _tenants.Find(key) ?? throw new OpenAiError(401,
            key is null ? "No API key provided: send it as 'Authorization: Bearer <key>'" : "Incorrect API key provided",
            "invalid_request_error", null, "invalid_api_key");
    }

    async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpContext http)
    {
        long limit = _options.MaxRequestBodyBytes;
        if (http.Request.ContentLength > limit) throw TooLarge(limit);
        PipeReader reader = http.Request.BodyReader;
        while (true)
        {
            ReadResult read = await reader.ReadAsync(http.RequestAborted);
            if (read.Buffer.Length > limit)
            {
                reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                throw TooLarge(limit);
            }
            if (read.IsCompleted)
            {
                byte[] body = read.Buffer.ToArray();
                reader.AdvanceTo(read.Buffer.End);
                return body;
            }
            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }

    static OpenAiError TooLarge(long limit) =>
        new(413, $"The request body is larger than this server's limit of {limit} bytes (Moe:FrontDoor:MaxRequestBodyBytes)", "invalid_request_error", null, "request_too_large");

    /// <summary>What the client is told about <paramref name="e"/>; anything unexpected is a 500 without internals.</summary>
    static OpenAiError Refusal(Exception e, string promptParam) => e switch
    {
        OpenAiError o => o,
        BackendException b => OpenAiError.FromBackend(b, promptParam),
        Microsoft.AspNetCore.Http.BadHttpRequestException { StatusCode: 413 } => new(413, e.Message, "invalid_request_error", null, "request_too_large"),
        _ => new(500, "The server failed to complete the request", "server_error", null, "internal_error"),
    };

    static long Created() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    static async Task WriteErrorAsync(HttpContext http, OpenAiError error, string tenant)
    {
        if (http.Response.HasStarted) return;
        if (error.RetryAfter is TimeSpan after) http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (error.Status == 401) http.Response.Headers.WWWAuthenticate = "Bearer";
        await WriteJsonAsync(http, error.Status, new OpenAiJson().Error(error));
    }

    static async Task WriteJsonAsync(HttpContext http, int status, ReadOnlyMemory<byte> body)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        http.Response.ContentLength = body.Length;
        await http.Response.Body.WriteAsync(body, http.RequestAborted);
    }

    /// <summary>One response as server-sent events: each piece of text is one <c>data:</c> event, flushed at once.</summary>
    sealed class SseStream(HttpContext http, OpenAiJson json, ResponseHeader header, int choices)
    {
        readonly SemaphoreSlim _gate = new(1, 1);
        readonly Dictionary<int, int> _offsets = [];
        bool _started;

        void Start()
        {
            if (_started) return;
            _started = true;
            http.Response.StatusCode = 200;
            http.Response.ContentType = "text/event-stream; charset=utf-8";
            http.Response.Headers.CacheControl = "no-cache";
            http.Response.Headers["X-Accel-Buffering"] = "no";
            if (header.Chat)
                for (int i = 0; i < choices; i++) WriteEvent(json.Chunk(header, i, null, null, 0, null, role: true));
        }

        public async ValueTask DeltaAsync(ChoiceDelta delta)
        {
            await _gate.WaitAsync(http.RequestAborted);
            try
            {
                Start();
                int offset = _offsets.GetValueOrDefault(delta.Index);
                WriteEvent(json.Chunk(header, delta.Index, delta.Text, delta.Logprobs, offset, null));
                _offsets[delta.Index] = offset + delta.Text.Length;
                await http.Response.BodyWriter.FlushAsync(http.RequestAborted);
            }
            finally
            {
                _gate.Release();
            }
        }

        public async Task FinishAsync(IReadOnlyList<ChoiceResult> results, Usage usage, CancellationToken cancellationToken)
        {
            Start();
            foreach (ChoiceResult r in results.OrderBy(r => r.Index))
                WriteEvent(json.Chunk(header, r.Index, header.Chat ? null : "", null, 0, r.FinishReason));
            if (header.IncludeUsage) WriteEvent(json.UsageChunk(header, usage));
            http.Response.BodyWriter.Write(Done);
            await http.Response.BodyWriter.FlushAsync(cancellationToken);
        }

        void WriteEvent(ReadOnlyMemory<byte> data)
        {
            PipeWriter writer = http.Response.BodyWriter;
            writer.Write(DataPrefix);
            writer.Write(data.Span);
            writer.Write(EventEnd);
        }

        /// <summary>A failure after the stream began: one event in the error shape, then the stream ends (no [DONE]).</summary>
        public static async Task ErrorAsync(HttpContext http, OpenAiJson json, OpenAiError error)
        {
            try
            {
                PipeWriter writer = http.Response.BodyWriter;
                writer.Write(DataPrefix);
                writer.Write(json.Error(error).Span);
                writer.Write(EventEnd);
                await writer.FlushAsync(http.RequestAborted);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
            {
                // The client is gone; nothing left to tell it.
            }
        }
    }
}
