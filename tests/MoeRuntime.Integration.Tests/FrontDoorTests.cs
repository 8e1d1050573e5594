using System.ClientModel;
using System.ClientModel.Primitives;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using MoeRuntime.FrontDoor;
using OpenAI;
using OpenAI.Chat;
using ChatFinishReason = OpenAI.Chat.ChatFinishReason;

namespace MoeRuntime.Integration.Tests;

/// <summary>One silo started with <c>--api-key</c> and a limited tenant, shared by the front-door tests.</summary>
public sealed class FrontDoorSilo : IAsyncLifetime
{
    public const string Key = "sk-frontdoor-test";
    public const string LimitedKey = "sk-limited-tenant";
    /// <summary>The silo's viewer token, for its /v1/router status.</summary>
    public const string ViewToken = "frontdoor-view-token";
    /// <summary>A tenant only the stop-string test uses, so its token series are that test's alone.</summary>
    public const string StopperKey = "sk-stopper-tenant";
    /// <summary>The cluster's pseudonym key, so a test can find a tenant's series as the router labels them.</summary>
    public const string PseudonymKey = "frontdoor-test-pseudonym-key-0123456789";

    internal LocalSilo Silo { get; private set; } = null!;
    public string BaseUrl => $"http://127.0.0.1:{Silo.Silo.HttpPort}";

    public async Task InitializeAsync()
    {
        Silo = await LocalSilo.StartAsync("frontdoor",
        [
            "--api-key", Key,
            "--Telemetry:Tokens:0", ViewToken,
            "--Moe:FrontDoor:Tenants:0:Name=limited",
            $"--Moe:FrontDoor:Tenants:0:Keys:0={KeyHashes.Configured(LimitedKey)}",
            "--Moe:FrontDoor:Tenants:0:RequestsPerMinute=1",
            "--Moe:FrontDoor:Tenants:1:Name=stopper",
            $"--Moe:FrontDoor:Tenants:1:Keys:0={KeyHashes.Configured(StopperKey)}",
            $"--Moe:Telemetry:PseudonymKey={PseudonymKey}",
        ]);
    }

    public async Task DisposeAsync() => await Silo.DisposeAsync();
}

/// <summary>
/// The front door of a real silo process on 127.0.0.1, driven by clients nobody here wrote: the official OpenAI .NET SDK,
/// Microsoft.Extensions.AI's IChatClient over it, and curl for the raw bytes.
/// </summary>
public sealed class FrontDoorTests(FrontDoorSilo fixture) : IClassFixture<FrontDoorSilo>
{
    const string Model = "default";

    OpenAIClientOptions Options() => new()
    {
        Endpoint = new Uri($"{fixture.BaseUrl}/v1"),
        // A 429 must reach the test, not be retried after its Retry-After.
        RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        NetworkTimeout = TimeSpan.FromMinutes(2),
    };

    ChatClient Chat(string key = FrontDoorSilo.Key, string model = Model) => new(model, new ApiKeyCredential(key), Options());

    static ChatCompletionOptions Sampling(int maxTokens, long seed, params string[] stops)
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = maxTokens, Temperature = 0.8f };
#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK.
        options.Seed = seed;
#pragma warning restore OPENAI001
        foreach (string stop in stops) options.StopSequences.Add(stop);
        return options;
    }

    [Fact]
    public async Task The_sdk_chat_answers_with_usage_and_the_same_seed_gives_the_same_text()
    {
        ChatClient chat = Chat();
        ChatCompletion first = await chat.CompleteChatAsync([new UserChatMessage("Tell me a story")], Sampling(12, 42));
        ChatCompletion second = await chat.CompleteChatAsync([new UserChatMessage("Tell me a story")], Sampling(12, 42));
        ChatCompletion other = await chat.CompleteChatAsync([new UserChatMessage("Tell me a story")], Sampling(12, 43));
        Assert.Equal(ChatFinishReason.Length, first.FinishReason);
        Assert.Equal(12, first.Usage.OutputTokenCount);
        Assert.True(first.Usage.InputTokenCount > 0);
        Assert.Equal(first.Usage.InputTokenCount + 12, first.Usage.TotalTokenCount);
        Assert.Equal(ChatMessageRole.Assistant, first.Role);
        Assert.Equal(first.Content[0].Text, second.Content[0].Text);
        Assert.NotEqual(first.Content[0].Text, other.Content[0].Text);
    }

    [Fact]
    public async Task The_sdk_streams_a_chat_token_by_token_with_usage_at_the_end()
    {
        ChatClient chat = Chat();
        string whole = (await chat.CompleteChatAsync([new UserChatMessage("Hi")], Sampling(10, 7))).Value.Content[0].Text;
        var text = new StringBuilder();
        int updates = 0;
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        await foreach (StreamingChatCompletionUpdate update in chat.CompleteChatStreamingAsync([new UserChatMessage("Hi")], Sampling(10, 7)))
        {
            foreach (ChatMessageContentPart part in update.ContentUpdate) text.Append(part.Text);
            if (update.ContentUpdate.Count > 0) updates++;
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        Assert.Equal(whole, text.ToString());
        Assert.True(updates > 1, $"{updates} content updates");
        Assert.Equal(ChatFinishReason.Length, finish);
        Assert.NotNull(usage);
        Assert.Equal(10, usage.OutputTokenCount);
    }

    [Fact]
    public async Task A_stop_sequence_ends_the_answer_before_it()
    {
        ChatClient chat = Chat();
        string whole = (await chat.CompleteChatAsync([new UserChatMessage("Go on")], Sampling(24, 5))).Value.Content[0].Text;
        Assert.True(whole.Length >= 8, $"'{whole}' is too short to pick a stop from");
        string stop = whole.Substring(4, 3);
        string expected = whole[..whole.IndexOf(stop, StringComparison.Ordinal)];
        ChatCompletion stopped = await chat.CompleteChatAsync([new UserChatMessage("Go on")], Sampling(24, 5, stop));
        Assert.Equal(expected, stopped.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
        var streamed = new StringBuilder();
        await foreach (StreamingChatCompletionUpdate update in chat.CompleteChatStreamingAsync([new UserChatMessage("Go on")], Sampling(24, 5, stop)))
            foreach (ChatMessageContentPart part in update.ContentUpdate) streamed.Append(part.Text);
        Assert.Equal(expected, streamed.ToString());
    }

    /// <summary>
    /// The router matches the stop string and ends the request there as a success: the tenant's token series (which only
    /// a successful request adds to) count exactly the answer's usage, whose prompt_tokens are the router's own count of
    /// the one tokenization the front door made.
    /// </summary>
    [Fact]
    public async Task A_stopped_request_is_a_success_in_the_routers_telemetry_with_the_usage_the_client_saw()
    {
        ChatClient chat = Chat(FrontDoorSilo.StopperKey);
        string whole = (await Chat().CompleteChatAsync([new UserChatMessage("Stop me")], Sampling(24, 8))).Value.Content[0].Text;
        Assert.True(whole.Length >= 8, $"'{whole}' is too short to pick a stop from");
        string stop = whole.Substring(5, 2);
        ChatCompletion stopped = (await chat.CompleteChatAsync([new UserChatMessage("Stop me")], Sampling(24, 8, stop))).Value;
        Assert.Equal(whole[..whole.IndexOf(stop, StringComparison.Ordinal)], stopped.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
        Assert.True(stopped.Usage.OutputTokenCount < 24, $"{stopped.Usage.OutputTokenCount} tokens: the stop did not end generation");

        string tenant = new MoeRuntime.Telemetry.Security.TenantPseudonyms(FrontDoorSilo.PseudonymKey).Of("stopper");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", FrontDoorSilo.ViewToken);
        Telemetry.MetricsText? page = null;
        await Eventually.UntilAsync("/metrics counts the stopped request's tokens for its tenant", TimeSpan.FromSeconds(30), async () =>
        {
            page = new Telemetry.MetricsText(await http.GetStringAsync($"{fixture.BaseUrl}/metrics"));
            return page.Sum("moe_tenant_tokens_total", ("tenant", tenant), ("token_type", "prompt")) == stopped.Usage.InputTokenCount
                && page.Sum("moe_tenant_tokens_total", ("tenant", tenant), ("token_type", "completion")) == stopped.Usage.OutputTokenCount;
        }, () => page?.Text ?? "");
        Assert.Equal(stopped.Usage.InputTokenCount, page!.Sum("moe_tenant_tokens_total", ("tenant", tenant), ("token_type", "prompt")));
        Assert.Equal(stopped.Usage.OutputTokenCount, page.Sum("moe_tenant_tokens_total", ("tenant", tenant), ("token_type", "completion")));
    }

    /// <summary>The SDK keeps its legacy-completions client internal, so /v1/completions is driven over plain HTTP.</summary>
    [Fact]
    public async Task A_completion_is_served_streamed_and_not()
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl), Timeout = TimeSpan.FromMinutes(2) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", FrontDoorSilo.Key);
        HttpResponseMessage whole = await http.PostAsync("/v1/completions", new StringContent(
            """{"model":"default","prompt":"Once upon a time","max_tokens":6,"seed":9}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        using JsonDocument body = JsonDocument.Parse(await whole.Content.ReadAsStringAsync());
        JsonElement choice = body.RootElement.GetProperty("choices")[0];
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(6, body.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        string text = choice.GetProperty("text").GetString()!;

        HttpResponseMessage streamed = await http.PostAsync("/v1/completions", new StringContent(
            """{"model":"default","prompt":"Once upon a time","max_tokens":6,"seed":9,"stream":true}""", Encoding.UTF8, "application/json"));
        string raw = await streamed.Content.ReadAsStringAsync();
        var joined = new StringBuilder();
        foreach (string e in raw.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            string payload = e["data: ".Length..];
            if (payload == "[DONE]") continue;
            using JsonDocument chunk = JsonDocument.Parse(payload);
            joined.Append(chunk.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
        }
        Assert.Equal(text, joined.ToString());
        Assert.EndsWith("data: [DONE]\n\n", raw);
    }

    /// <summary>
    /// A chat prompt is the rendered template tokenized without an added beginning-of-sequence token (the template
    /// writes the special tokens it wants, as transformers' apply_chat_template); the same text sent as a completion
    /// prompt gets one, so it counts exactly one token more.
    /// </summary>
    [Fact]
    public async Task A_chat_prompt_gets_no_added_beginning_of_sequence_token_and_a_completion_prompt_does()
    {
        ChatCompletion chat = (await Chat().CompleteChatAsync([new UserChatMessage("Count me")], Sampling(2, 5))).Value;
        string rendered = MoeRuntime.Model.Chat.ChatTemplate.BuiltInModel.Render([new MoeRuntime.Model.Chat.ChatMessage("user", "Count me")], addGenerationPrompt: true);

        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl), Timeout = TimeSpan.FromMinutes(2) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", FrontDoorSilo.Key);
        HttpResponseMessage completion = await http.PostAsync("/v1/completions", new StringContent(
            JsonSerializer.Serialize(new { model = "default", prompt = rendered, max_tokens = 2 }), Encoding.UTF8, "application/json"));
        using JsonDocument body = JsonDocument.Parse(await completion.Content.ReadAsStringAsync());
        Assert.Equal(chat.Usage.InputTokenCount + 1, body.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task An_invalid_key_is_401_and_an_unknown_model_404()
    {
        var denied = await Assert.ThrowsAsync<ClientResultException>(() => Chat("sk-wrong").CompleteChatAsync([new UserChatMessage("x")]));
        Assert.Equal(401, denied.Status);
        var unknown = await Assert.ThrowsAsync<ClientResultException>(() => Chat(model: "gpt-4o").CompleteChatAsync([new UserChatMessage("x")]));
        Assert.Equal(404, unknown.Status);
        Assert.Contains("gpt-4o", unknown.Message);
    }

    [Fact]
    public async Task Logprobs_come_from_the_router_stream_with_their_alternatives()
    {
        ChatCompletionOptions options = Sampling(6, 3);
        options.IncludeLogProbabilities = true;
        options.TopLogProbabilityCount = 3;
        ChatCompletion completion = await Chat().CompleteChatAsync([new UserChatMessage("Log probabilities")], options);
        Assert.InRange(completion.ContentTokenLogProbabilities.Count, 1, 6);
        foreach (ChatTokenLogProbabilityDetails token in completion.ContentTokenLogProbabilities)
        {
            Assert.True(token.LogProbability <= 0, $"log-probability {token.LogProbability} of '{token.Token}' is over 0");
            Assert.Equal(3, token.TopLogProbabilities.Count);
            // Alternatives best first; the sampled token is one of the model's tokens, so never more likely than the best.
            Assert.True(token.TopLogProbabilities[0].LogProbability >= token.TopLogProbabilities[2].LogProbability);
            Assert.True(token.LogProbability <= token.TopLogProbabilities[0].LogProbability + 1e-4);
        }
    }

    [Fact]
    public async Task Each_tenants_tokens_are_counted_under_its_pseudonym_and_add_up_to_all_tokens()
    {
        ChatCompletion answer = (await Chat().CompleteChatAsync([new UserChatMessage("Count me")], Sampling(5, 3))).Value;
        Assert.True(answer.Usage.OutputTokenCount > 0);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", FrontDoorSilo.ViewToken);
        Telemetry.MetricsText? page = null;
        await Eventually.UntilAsync("/metrics counts tokens per tenant", TimeSpan.FromSeconds(30), async () =>
        {
            page = new Telemetry.MetricsText(await http.GetStringAsync($"{fixture.BaseUrl}/metrics"));
            double all = page.Sum("moe_tokens_total"), byTenant = page.Sum("moe_tenant_tokens_total");
            return all >= answer.Usage.TotalTokenCount && byTenant == all;
        }, () => page?.Text ?? "");

        IReadOnlyList<string> tenants = page!.LabelValues("moe_tenant_tokens_total", "tenant");
        Assert.NotEmpty(tenants);
        // Pseudonyms only: neither tenant's name (the API key's tenant is "default") is ever a label value.
        Assert.DoesNotContain("default", tenants);
        Assert.DoesNotContain("limited", tenants);
        Assert.All(tenants, t => Assert.Matches("^[0-9a-f]{8,64}$|^other$", t));
    }

    [Fact]
    public async Task A_tenant_over_its_request_limit_gets_429_with_retry_after()
    {
        ChatClient chat = Chat(FrontDoorSilo.LimitedKey);
        await chat.CompleteChatAsync([new UserChatMessage("x")], Sampling(2, 1));
        var limited = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("x")], Sampling(2, 1)));
        Assert.Equal(429, limited.Status);
        Assert.True(limited.GetRawResponse()!.Headers.TryGetValue("Retry-After", out string? after) && int.Parse(after!) >= 1);
    }

    [Fact]
    public async Task Microsoft_extensions_ai_chat_client_works_over_the_sdk()
    {
        IChatClient client = Chat().AsIChatClient();
        var options = new ChatOptions { MaxOutputTokens = 8, Seed = 11, Temperature = 0.8f };
        ChatResponse response = await client.GetResponseAsync("Hello there", options);
        Assert.False(string.IsNullOrEmpty(response.Text));
        Assert.Equal(8, response.Usage?.OutputTokenCount);
        Assert.Equal(Microsoft.Extensions.AI.ChatFinishReason.Length, response.FinishReason);
        var streamed = new StringBuilder();
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync("Hello there", options)) streamed.Append(update.Text);
        Assert.Equal(response.Text, streamed.ToString());
    }

    [Fact]
    public async Task Curl_sees_the_raw_server_sent_events()
    {
        var curl = new ProcessStartInfo("curl")
        {
            ArgumentList =
            {
                "-sS", "-N", "--max-time", "60", "-H", $"Authorization: Bearer {FrontDoorSilo.Key}", "-H", "Content-Type: application/json",
                $"{fixture.BaseUrl}/v1/chat/completions", "-d",
                """{"model":"default","messages":[{"role":"user","content":"Hi"}],"max_tokens":5,"seed":3,"stream":true,"stream_options":{"include_usage":true}}""",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process process = Process.Start(curl)!;
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        Assert.True(process.ExitCode == 0, await process.StandardError.ReadToEndAsync());
        Assert.EndsWith("\n\ndata: [DONE]\n\n", output);
        string[] events = output[..^2].Split("\n\n");
        Assert.All(events, e => Assert.StartsWith("data: ", e));
        using JsonDocument first = JsonDocument.Parse(events[0]["data: ".Length..]);
        Assert.Equal("chat.completion.chunk", first.RootElement.GetProperty("object").GetString());
        Assert.Equal("assistant", first.RootElement.GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        using JsonDocument usage = JsonDocument.Parse(events[^2]["data: ".Length..]);
        Assert.Equal(5, usage.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(0, usage.RootElement.GetProperty("choices").GetArrayLength());
        using JsonDocument last = JsonDocument.Parse(events[^3]["data: ".Length..]);
        Assert.Equal("length", last.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task Closing_the_connection_mid_stream_cancels_the_request_in_the_router()
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl), Timeout = TimeSpan.FromMinutes(2) };
        Assert.Equal(0, await ActiveSequences(http));
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent("""{"model":"default","prompt":"Write a long story","max_tokens":1500,"temperature":0,"stream":true}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", FrontDoorSilo.Key);
        HttpResponseMessage response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using (var reader = new StreamReader(await response.Content.ReadAsStreamAsync()))
        {
            Assert.StartsWith("data: ", await reader.ReadLineAsync());
            Assert.Equal(1, await ActiveSequences(http));
        }
        response.Dispose();
        await Eventually.UntilAsync("the router's running request count drops to 0", TimeSpan.FromSeconds(30),
            async () => await ActiveSequences(http) == 0, fixture.Silo.Diagnostics);
    }

    static async Task<int> ActiveSequences(HttpClient http)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/router");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", FrontDoorSilo.ViewToken);
        using HttpResponseMessage response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        using JsonDocument status = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return status.RootElement.GetProperty("activeSequences").GetInt32() + status.RootElement.GetProperty("queueDepth").GetInt32();
    }
}
