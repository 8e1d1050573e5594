using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using MoeRuntime.Client;
using MoeRuntime.Grains;

namespace MoeRuntime.LoadGenerator;

/// <summary>One event of a streamed answer: how many tokens it stands for, and whether its arrival time is a token's.</summary>
readonly record struct Streamed(int Tokens, bool Timed);

/// <summary>What the load clients stream from: the router grain through the Orleans client, or a silo's front door over HTTP.</summary>
interface IServedTarget
{
    string Name { get; }
    /// <summary>The request's tokens; <paramref name="resumed"/> is told each time the stream is resumed on another rank.</summary>
    IAsyncEnumerable<Streamed> StreamAsync(GenerateRequest request, Action resumed, CancellationToken cancellationToken);
    Task<RouterStatus> StatusAsync(CancellationToken cancellationToken);
}

/// <summary>The router grain, as the Orleans client reaches it, through the client library's resuming stream.</summary>
sealed class RouterTarget(IClusterClient cluster, string model) : IServedTarget
{
    public string Name => "orleans";

    public async IAsyncEnumerable<Streamed> StreamAsync(GenerateRequest request, Action resumed, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var options = ResumeOptions.Default with { OnResume = _ => resumed() };
        await foreach (TokenChunk _ in cluster.StreamWithResumeAsync(model, request, options, cancellationToken)) yield return new Streamed(1, true);
    }

    public Task<RouterStatus> StatusAsync(CancellationToken cancellationToken) => cluster.GetGrain<IRouterGrain>(model).GetStatusAsync();
}

/// <summary>A request the front door refused or failed, named by its HTTP status (and OpenAI error code when it sent one).</summary>
sealed class HttpLoadException(string code) : Exception(code)
{
    public string Code { get; } = code;
}

/// <summary>
/// A silo's OpenAI front door: streamed <c>/v1/completions</c> with the same prompt and sampling as the Orleans requests
/// (<c>ignore_eos</c> when the request has no stop tokens, so both do the same work). Each text event is a token; the
/// usage chunk corrects the count for tokens that produced no text of their own.
/// </summary>
sealed class HttpTarget : IServedTarget, IDisposable
{
    readonly HttpClient _http;
    readonly string _model;
    readonly string? _viewToken;

    public HttpTarget(string url, string? apiKey, string? viewToken, string model)
    {
        _viewToken = viewToken;
        _http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
        {
            BaseAddress = new Uri(url.TrimEnd('/') + "/"),
            Timeout = TimeSpan.FromMinutes(10),
        };
        if (!string.IsNullOrEmpty(apiKey)) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        _model = model;
    }

    public string Name => "http";

    public async IAsyncEnumerable<Streamed> StreamAsync(GenerateRequest request, Action resumed, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        SamplingParameters s = request.Sampling;
        string body = JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["model"] = _model,
            ["prompt"] = request.Prompt,
            ["max_tokens"] = s.MaxTokens,
            ["temperature"] = s.Temperature,
            ["top_p"] = s.TopP,
            ["seed"] = s.Seed is ulong seed ? unchecked((long)seed) : null,
            ["ignore_eos"] = s.StopTokenIds is { Length: 0 },
            ["stream"] = true,
            ["stream_options"] = new Dictionary<string, bool> { ["include_usage"] = true },
        });
        using var message = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using HttpResponseMessage response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new HttpLoadException($"HTTP {(int)response.StatusCode} {ErrorCode(await response.Content.ReadAsStringAsync(cancellationToken))}".TrimEnd());
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        int seen = 0;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            if (line == "data: [DONE]") yield break;
            // Text chunks are the only ones with a null finish_reason; reading that is cheaper than parsing each chunk.
            if (line.Contains("\"finish_reason\":null", StringComparison.Ordinal))
            {
                seen++;
                yield return new Streamed(1, true);
            }
            else if (line.Contains("\"usage\":{", StringComparison.Ordinal))
            {
                using JsonDocument usage = JsonDocument.Parse(line.AsMemory(6));
                int total = usage.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
                if (total != seen) yield return new Streamed(total - seen, false);
            }
            else if (line.StartsWith("data: {\"error\"", StringComparison.Ordinal))
                throw new HttpLoadException($"stream {ErrorCode(line[6..])}");
        }
        throw new HttpLoadException("stream ended without [DONE]");
    }

    static string ErrorCode(string body)
    {
        try
        {
            using JsonDocument error = JsonDocument.Parse(body);
            return error.RootElement.GetProperty("error").GetProperty("code").GetString() ?? "";
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return "";
        }
    }

    /// <summary>The silo's router status (<c>GET /v1/router</c>), for the wire-traffic columns.</summary>
    public async Task<RouterStatus> StatusAsync(CancellationToken cancellationToken)
    {
        // The status is behind the silo's viewer tokens, not the front door's API keys.
        using var status = new HttpRequestMessage(HttpMethod.Get, "v1/router");
        if (!string.IsNullOrEmpty(_viewToken)) status.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _viewToken);
        using HttpResponseMessage response = await _http.SendAsync(status, cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new HttpLoadException($"GET /v1/router answered HTTP {(int)response.StatusCode}{(response.StatusCode == System.Net.HttpStatusCode.Unauthorized ? " (give a viewer token: --view-token)" : "")}");
        string json = await response.Content.ReadAsStringAsync(cancellationToken);
        return JsonSerializer.Deserialize<RouterStatus>(json, new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>
/// Several routers at once, one per gateway, each request to the next in turn (<c>--router-per-gateway</c>). A router
/// is a stateless worker activated on the silo the call enters, and an Orleans client sends every call to one grain
/// through the same gateway; so one client reaches one rank's router however many ranks there are. Spreading requests
/// over one client per gateway does what a load balancer in front of every silo's front door does.
/// </summary>
sealed class SpreadTarget(IReadOnlyList<IServedTarget> targets) : IServedTarget
{
    int _next = -1;

    public string Name => $"{targets[0].Name} x{targets.Count}";

    public IAsyncEnumerable<Streamed> StreamAsync(GenerateRequest request, Action resumed, CancellationToken cancellationToken) =>
        targets[(int)((uint)Interlocked.Increment(ref _next) % (uint)targets.Count)].StreamAsync(request, resumed, cancellationToken);

    /// <summary>Every router's counters summed (the rank is the first router's); the levels report differences of them.</summary>
    public async Task<RouterStatus> StatusAsync(CancellationToken cancellationToken)
    {
        RouterStatus[] all = await Task.WhenAll(targets.Select(t => t.StatusAsync(cancellationToken)));
        return all.Aggregate((a, b) => a with
        {
            QueueDepth = a.QueueDepth + b.QueueDepth,
            ActiveSequences = a.ActiveSequences + b.ActiveSequences,
            ExpertCalls = a.ExpertCalls + b.ExpertCalls,
            BytesSent = a.BytesSent + b.BytesSent,
            BytesReceived = a.BytesReceived + b.BytesReceived,
            ExpertCallSeconds = a.ExpertCallSeconds + b.ExpertCallSeconds,
            PrefetchHints = a.PrefetchHints + b.PrefetchHints,
            CostAwareRoutingApplied = a.CostAwareRoutingApplied + b.CostAwareRoutingApplied,
            CostAwareRoutingRefused = a.CostAwareRoutingRefused + b.CostAwareRoutingRefused,
        });
    }
}
