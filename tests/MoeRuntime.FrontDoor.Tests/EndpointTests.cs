using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MoeRuntime.FrontDoor.Tests;

public sealed class EndpointTests
{
    static async Task<JsonElement> Json(HttpResponseMessage response) => JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    static async Task AssertError(HttpResponseMessage response, HttpStatusCode status, string? param, string? code)
    {
        Assert.Equal(status, response.StatusCode);
        JsonElement error = (await Json(response)).GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Models_lists_the_served_models_with_their_context_length()
    {
        await using var host = await FrontDoorHost.StartAsync();
        JsonElement body = await Json(await host.Client.GetAsync("/v1/models"));
        Assert.Equal("list", body.GetProperty("object").GetString());
        JsonElement model = Assert.Single(body.GetProperty("data").EnumerateArray());
        Assert.Equal("fake-moe", model.GetProperty("id").GetString());
        Assert.Equal("model", model.GetProperty("object").GetString());
        Assert.Equal(64, model.GetProperty("context_length").GetInt32());
    }

    [Fact]
    public async Task A_missing_or_wrong_key_is_401()
    {
        await using var host = await FrontDoorHost.StartAsync();
        host.Client.DefaultRequestHeaders.Authorization = null;
        HttpResponseMessage none = await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"hi"}""");
        await AssertError(none, HttpStatusCode.Unauthorized, null, "invalid_api_key");
        Assert.Equal("Bearer", none.Headers.WwwAuthenticate.ToString());
        host.Client.DefaultRequestHeaders.Authorization = new("Bearer", "sk-wrong");
        await AssertError(await host.Client.GetAsync("/v1/models"), HttpStatusCode.Unauthorized, null, "invalid_api_key");
        Assert.Empty(host.Backend.Calls);
    }

    [Fact]
    public async Task A_tenant_key_is_matched_by_its_hash_and_its_tenant_reaches_the_backend()
    {
        await using var host = await FrontDoorHost.StartAsync(settings: new()
        {
            ["Moe:FrontDoor:Tenants:0:Name"] = "acme",
            ["Moe:FrontDoor:Tenants:0:Keys:0"] = KeyHashes.Configured("sk-acme"),
            ["Moe:FrontDoor:ApiKey"] = FrontDoorHost.Key,
        });
        host.Client.DefaultRequestHeaders.Authorization = new("Bearer", "sk-acme");
        Assert.Equal(HttpStatusCode.OK, (await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"hi"}""")).StatusCode);
        host.Client.DefaultRequestHeaders.Authorization = new("Bearer", FrontDoorHost.Key);
        Assert.Equal(HttpStatusCode.OK, (await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"hi"}""")).StatusCode);
        Assert.Equal(["acme", "default"], host.Backend.Calls.Select(c => c.Tenant));
        // The hash itself is not a key.
        host.Client.DefaultRequestHeaders.Authorization = new("Bearer", KeyHashes.Configured("sk-acme"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"hi"}""")).StatusCode);
    }

    [Fact]
    public async Task With_no_keys_configured_requests_need_none()
    {
        await using var host = await FrontDoorHost.StartAsync(settings: []);
        host.Client.DefaultRequestHeaders.Authorization = null;
        Assert.Equal(HttpStatusCode.OK, (await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"hi"}""")).StatusCode);
        Assert.Equal("default", Assert.Single(host.Backend.Calls).Tenant);
    }

    [Fact]
    public async Task A_completion_answers_with_text_usage_and_finish_reason()
    {
        await using var host = await FrontDoorHost.StartAsync();
        HttpResponseMessage response = await host.PostAsync("/v1/completions",
            """{"model":"fake-moe","prompt":"Say hi","max_tokens":10,"temperature":0.5,"top_p":0.9,"top_k":40,"seed":7,"user":"u1","ignore_eos":true}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement body = await Json(response);
        Assert.StartsWith("cmpl-", body.GetProperty("id").GetString());
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        Assert.Equal("fake-moe", body.GetProperty("model").GetString());
        JsonElement choice = Assert.Single(body.GetProperty("choices").EnumerateArray());
        Assert.Equal("Hello, world!", choice.GetProperty("text").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        JsonElement usage = body.GetProperty("usage");
        Assert.Equal(6, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(4, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(10, usage.GetProperty("total_tokens").GetInt32());
        GenerationCall call = Assert.Single(host.Backend.Calls);
        Assert.Equal(("Say hi", 10, 0.5, 0.9, 40, (ulong?)7, true), (call.Prompt, call.MaxTokens, call.Temperature, call.TopP, call.TopK, call.Seed, call.IgnoreEos));
        Assert.False(call.Chat);
    }

    [Fact]
    public async Task Max_tokens_ends_with_length_and_is_capped_by_the_context()
    {
        await using var host = await FrontDoorHost.StartAsync();
        JsonElement body = await Json(await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"x","max_completion_tokens":2}"""));
        Assert.Equal("Hello,", body.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal("length", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        // 60 prompt tokens of a 64-token context leave 4.
        await host.PostAsync("/v1/completions", $$"""{"model":"fake-moe","prompt":"{{new string('p', 60)}}","max_tokens":100}""");
        Assert.Equal(4, host.Backend.Calls.Last().MaxTokens);
    }

    [Fact]
    public async Task The_backends_finish_reason_wins_when_it_gives_one()
    {
        await using var host = await FrontDoorHost.StartAsync(new FakeBackend { FinishReason = "length" });
        JsonElement body = await Json(await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"x","max_tokens":50}"""));
        Assert.Equal("length", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task A_chat_completion_renders_the_messages_through_the_backend()
    {
        await using var host = await FrontDoorHost.StartAsync();
        HttpResponseMessage response = await host.PostAsync("/v1/chat/completions", """
            {"model":"fake-moe","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hi"},{"type":"text","text":" there"}]}]}
            """);
        JsonElement body = await Json(response);
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.StartsWith("chatcmpl-", body.GetProperty("id").GetString());
        JsonElement message = body.GetProperty("choices")[0].GetProperty("message");
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        Assert.Equal("Hello, world!", message.GetProperty("content").GetString());
        Assert.Equal([new ChatTurn("system", "Be brief."), new ChatTurn("user", "Hi there")], Assert.Single(host.Backend.Chats));
        GenerationCall call = Assert.Single(host.Backend.Calls);
        Assert.Equal("<system>Be brief.<user>Hi there<assistant>", call.Prompt);
        Assert.True(call.Chat, "a rendered chat template is marked so the backend adds no beginning-of-sequence token");
        Assert.Equal("<system>Be brief.<user>Hi there<assistant>".Length, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task A_streamed_chat_is_server_sent_events_in_the_openai_format()
    {
        await using var host = await FrontDoorHost.StartAsync();
        HttpResponseMessage response = await host.PostAsync("/v1/chat/completions",
            """{"model":"fake-moe","messages":[{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_usage":true}}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        string raw = await response.Content.ReadAsStringAsync();
        string id = Regex.Match(raw, "\"id\":\"(chatcmpl-[0-9a-f]{32})\"").Groups[1].Value;
        string created = Regex.Match(raw, "\"created\":([0-9]+)").Groups[1].Value;
        string head = $$"""{"id":"{{id}}","object":"chat.completion.chunk","created":{{created}},"model":"fake-moe","system_fingerprint":null,""";
        string expected =
            $$"""data: {{head}}"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}""" + "\n\n" +
            $$"""data: {{head}}"choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}""" + "\n\n" +
            $$"""data: {{head}}"choices":[{"index":0,"delta":{"content":","},"logprobs":null,"finish_reason":null}],"usage":null}""" + "\n\n" +
            $$"""data: {{head}}"choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}],"usage":null}""" + "\n\n" +
            $$"""data: {{head}}"choices":[{"index":0,"delta":{"content":"!"},"logprobs":null,"finish_reason":null}],"usage":null}""" + "\n\n" +
            $$"""data: {{head}}"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}""" + "\n\n" +
            $$$"""data: {{{head}}}"choices":[],"usage":{"prompt_tokens":{{{"<user>Hi<assistant>".Length}}},"completion_tokens":4,"total_tokens":{{{"<user>Hi<assistant>".Length + 4}}}}}""" + "\n\n" +
            "data: [DONE]\n\n";
        Assert.Equal(expected, raw);
    }

    [Fact]
    public async Task A_streamed_completion_without_usage_has_no_usage_fields()
    {
        await using var host = await FrontDoorHost.StartAsync();
        string raw = await (await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"x","stream":true,"max_tokens":3}""")).Content.ReadAsStringAsync();
        List<string> events = Sse.Events(raw);
        Assert.Equal("[DONE]", events[^1]);
        Assert.DoesNotContain("usage", raw);
        Assert.Equal("Hello, world", Sse.Text(events, chat: false));
        JsonElement last = Sse.Json(events[^2]);
        Assert.Equal("text_completion", last.GetProperty("object").GetString());
        Assert.Equal("length", last.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.All(events[..^2], e => Assert.Equal(JsonValueKind.Null, Sse.Json(e).GetProperty("choices")[0].GetProperty("finish_reason").ValueKind));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_stop_across_token_boundaries_is_never_emitted_and_ends_the_generation(bool stream)
    {
        var backend = new FakeBackend { Script = _ => ["The", " an", "swer", " is", " 4", "2.", " END", "ING", " more"] };
        await using var host = await FrontDoorHost.StartAsync(backend);
        string body = $$"""{"model":"fake-moe","prompt":"q","stop":["swer i","zzz"],"stream":{{(stream ? "true" : "false")}}}""";
        HttpResponseMessage response = await host.PostAsync("/v1/completions", body);
        string raw = await response.Content.ReadAsStringAsync();
        string text;
        string? finish;
        if (stream)
        {
            List<string> events = Sse.Events(raw);
            text = Sse.Text(events, chat: false);
            finish = Sse.Json(events[^2]).GetProperty("choices")[0].GetProperty("finish_reason").GetString();
        }
        else
        {
            JsonElement choice = Sse.Json(raw).GetProperty("choices")[0];
            text = choice.GetProperty("text").GetString()!;
            finish = choice.GetProperty("finish_reason").GetString();
        }
        Assert.Equal("The an", text);
        Assert.Equal("stop", finish);
        Assert.DoesNotContain("swer", raw);
        Assert.Equal(1, backend.Cancelled);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_backend_that_matches_stops_gets_them_and_ends_the_generation_itself_without_a_cancel(bool stream)
    {
        // The backend plays a router that matched "swer i": its text stops before it and its last token says why.
        var backend = new FakeBackend { MatchesStopStrings = true, FinishReason = "stop", Script = _ => ["The", " an", ""] };
        await using var host = await FrontDoorHost.StartAsync(backend);
        string body = $$$"""{"model":"fake-moe","prompt":"q","stop":["swer i","zzz"],{{{(stream ? "\"stream\":true,\"stream_options\":{\"include_usage\":true}" : "\"stream\":false")}}}}""";
        string raw = await (await host.PostAsync("/v1/completions", body)).Content.ReadAsStringAsync();
        (string text, string? finish, JsonElement usage) = Answer(raw, stream);
        Assert.Equal("The an", text);
        Assert.Equal("stop", finish);
        Assert.Equal(3, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(0, backend.Cancelled);
        GenerationCall call = Assert.Single(backend.Calls);
        Assert.Equal(["swer i", "zzz"], call.Stops);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_trailer_from_the_backend_is_text_but_not_a_token(bool stream)
    {
        var backend = new FakeBackend { MatchesStopStrings = true, Trailer = "s", Script = _ => ["Ye"] };
        await using var host = await FrontDoorHost.StartAsync(backend);
        string body = $$$"""{"model":"fake-moe","prompt":"q","stop":["sz"],{{{(stream ? "\"stream\":true,\"stream_options\":{\"include_usage\":true}" : "\"stream\":false")}}}}""";
        string raw = await (await host.PostAsync("/v1/completions", body)).Content.ReadAsStringAsync();
        (string text, string? finish, JsonElement usage) = Answer(raw, stream);
        Assert.Equal("Yes", text);
        Assert.Equal("stop", finish);
        Assert.Equal(1, usage.GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task The_prompt_is_tokenized_once_and_its_ids_go_to_the_backend_with_the_count_in_usage()
    {
        var backend = new FakeBackend();
        await using var host = await FrontDoorHost.StartAsync(backend);
        JsonElement body = await Json(await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"abc","n":2}"""));
        Assert.Equal(2 * 3, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.All(backend.Calls, c => Assert.Equal([97, 98, 99], c.PromptTokenIds!));
        Assert.Equal(2, backend.Calls.Count);
    }

    /// <summary>The text, finish reason and usage of a one-choice completion, streamed (with usage) or not.</summary>
    static (string Text, string? Finish, JsonElement Usage) Answer(string raw, bool stream)
    {
        if (!stream)
        {
            JsonElement whole = Sse.Json(raw);
            Assert.True(whole.TryGetProperty("choices", out _), raw);
            JsonElement choice = whole.GetProperty("choices")[0];
            return (choice.GetProperty("text").GetString()!, choice.GetProperty("finish_reason").GetString(), whole.GetProperty("usage"));
        }
        List<string> events = Sse.Events(raw);
        // The last events: the finishing chunk, the usage chunk, [DONE].
        return (Sse.Text(events, chat: false), Sse.Json(events[^3]).GetProperty("choices")[0].GetProperty("finish_reason").GetString(),
            Sse.Json(events[^2]).GetProperty("usage"));
    }

    [Fact]
    public async Task N_choices_run_with_consecutive_seeds()
    {
        var backend = new FakeBackend { Script = c => [$"seed{c.Seed}"] };
        await using var host = await FrontDoorHost.StartAsync(backend);
        JsonElement body = await Json(await host.PostAsync("/v1/chat/completions", """{"model":"fake-moe","messages":[{"role":"user","content":"x"}],"n":3,"seed":10}"""));
        string[] texts = body.GetProperty("choices").EnumerateArray().OrderBy(c => c.GetProperty("index").GetInt32())
            .Select(c => c.GetProperty("message").GetProperty("content").GetString()!).ToArray();
        Assert.Equal(["seed10", "seed11", "seed12"], texts);
        Assert.Equal(3, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(3 * "<user>x<assistant>".Length, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());

        string raw = await (await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":["a","b"],"n":2,"seed":1,"stream":true}""")).Content.ReadAsStringAsync();
        List<string> events = Sse.Events(raw);
        Assert.Equal(["seed1", "seed2", "seed1", "seed2"], Enumerable.Range(0, 4).Select(i => Sse.Text(events, chat: false, i)));
        Assert.Equal(["a", "a", "b", "b"], host.Backend.Calls.Skip(3).OrderBy(c => c.RequestId.Length).ThenBy(c => c.RequestId).Select(c => c.Prompt).Order());
    }

    [Fact]
    public async Task Too_many_choices_are_refused_naming_n()
    {
        await using var host = await FrontDoorHost.StartAsync();
        await AssertError(await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"x","n":9}"""), HttpStatusCode.BadRequest, "n", "invalid_value");
    }

    [Fact]
    public async Task Chat_logprobs_come_in_the_chat_format()
    {
        await using var host = await FrontDoorHost.StartAsync(new FakeBackend { SupportsLogprobs = true, Script = _ => ["a", "é"] });
        JsonElement body = await Json(await host.PostAsync("/v1/chat/completions",
            """{"model":"fake-moe","messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":2}"""));
        JsonElement content = body.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content");
        Assert.Equal(2, content.GetArrayLength());
        Assert.Equal("é", content[1].GetProperty("token").GetString());
        Assert.Equal(-1.0, content[1].GetProperty("logprob").GetDouble(), 5);
        Assert.Equal([0xC3, 0xA9], content[1].GetProperty("bytes").EnumerateArray().Select(b => b.GetInt32()));
        JsonElement top = content[0].GetProperty("top_logprobs");
        Assert.Equal(["alt0", "alt1"], top.EnumerateArray().Select(t => t.GetProperty("token").GetString()));
        Assert.Equal(2, host.Backend.Calls.Single().TopLogprobs);
    }

    [Fact]
    public async Task Completion_logprobs_come_in_the_legacy_format_streamed()
    {
        await using var host = await FrontDoorHost.StartAsync(new FakeBackend { SupportsLogprobs = true, Script = _ => ["ab", "c"] });
        string raw = await (await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"x","logprobs":1,"stream":true}""")).Content.ReadAsStringAsync();
        List<JsonElement> chunks = Sse.Events(raw)[..^1].Select(Sse.Json).ToList();
        JsonElement second = chunks[1].GetProperty("choices")[0].GetProperty("logprobs");
        Assert.Equal(["c"], second.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(-1.0, second.GetProperty("token_logprobs")[0].GetDouble(), 5);
        Assert.Equal(-1.0, second.GetProperty("top_logprobs")[0].GetProperty("alt0").GetDouble(), 5);
        Assert.Equal(2, second.GetProperty("text_offset")[0].GetInt32());
    }

    [Fact]
    public async Task Logprobs_are_refused_clearly_when_the_backend_cannot_give_them()
    {
        await using var host = await FrontDoorHost.StartAsync();
        await AssertError(await host.PostAsync("/v1/chat/completions", """{"model":"fake-moe","messages":[{"role":"user","content":"x"}],"logprobs":true}"""),
            HttpStatusCode.BadRequest, "logprobs", "unsupported_parameter");
        Assert.Empty(host.Backend.Calls);
    }

    [Theory]
    [InlineData("{\"model\":\"fake-moe\",\"prompt\":", null, "invalid_json")]
    [InlineData("[1,2]", null, "invalid_json")]
    [InlineData("{\"prompt\":\"x\"}", "model", "missing_required_parameter")]
    [InlineData("{\"model\":\"fake-moe\"}", "prompt", "missing_required_parameter")]
    [InlineData("{\"model\":7,\"prompt\":\"x\"}", "model", "invalid_type")]
    [InlineData("{\"model\":\"fake-moe\",\"prompt\":\"x\",\"max_tokens\":\"ten\"}", "max_tokens", "invalid_type")]
    [InlineData("{\"model\":\"fake-moe\",\"prompt\":\"x\",\"max_tokens\":0}", "max_tokens", "invalid_value")]
    [InlineData("{\"model\":\"fake-moe\",\"prompt\":\"x\",\"temperature\":3}", "temperature", "invalid_value")]
    [InlineData("{\"model\":\"fake-moe\",\"prompt\":\"x\",\"top_p\":0}", "top_p", "invalid_value")]
    [InlineData("{\"model\":\"fake-moe\",\"prompt\":\"x\",\"seed\":1.5}", "seed", "invalid_type")]
    [InlineData("{\"model\":\"fake-moe\",\"prompt\":\"x\",\"stop\":[1]}", "stop", "invalid_type")]
    [InlineData("{\"model\":\"fake-moe\",\"prompt\":\"x\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", "stop", "invalid_value")]
    [InlineData("{\"model\":\"fake-moe\",\"prompt\":\"x\",\"stream\":\"yes\"}", "stream", "invalid_type")]
    [InlineData("{\"model\":\"fake-moe\",\"prompt\":\"x\",\"stream_options\":{\"include_usage\":true}}", "stream_options", "invalid_value")]
    [InlineData("{\"model\":\"fake-moe\",\"prompt\":[1,2,3]}", "prompt", "invalid_type")]
    [InlineData("{\"model\":\"fake-moe\",\"prompt\":\"x\",\"n\":0}", "n", "invalid_value")]
    [InlineData("{\"model\":\"fake-moe\",\"prompt\":\"x\",\"logprobs\":6}", "logprobs", "invalid_value")]
    [InlineData("{\"model\":\"fake-moe\",\"prompt\":\"x\",\"ignore_eos\":1}", "ignore_eos", "invalid_type")]
    public async Task Bad_completion_bodies_are_400_naming_the_parameter(string body, string? param, string code)
    {
        await using var host = await FrontDoorHost.StartAsync();
        await AssertError(await host.PostAsync("/v1/completions", body), HttpStatusCode.BadRequest, param, code);
        Assert.Empty(host.Backend.Calls);
    }

    [Theory]
    [InlineData("{\"model\":\"fake-moe\",\"messages\":[]}", "messages", "missing_required_parameter")]
    [InlineData("{\"model\":\"fake-moe\",\"messages\":\"hi\"}", "messages", "invalid_type")]
    [InlineData("{\"model\":\"fake-moe\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", "messages", "invalid_value")]
    [InlineData("{\"model\":\"fake-moe\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", "messages", "invalid_value")]
    [InlineData("{\"model\":\"fake-moe\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"logprobs\":3}", "logprobs", "invalid_type")]
    [InlineData("{\"model\":\"fake-moe\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_logprobs\":2}", "top_logprobs", "invalid_value")]
    public async Task Bad_chat_bodies_are_400_naming_the_parameter(string body, string param, string code)
    {
        await using var host = await FrontDoorHost.StartAsync();
        await AssertError(await host.PostAsync("/v1/chat/completions", body), HttpStatusCode.BadRequest, param, code);
    }

    [Fact]
    public async Task Unknown_fields_are_ignored()
    {
        await using var host = await FrontDoorHost.StartAsync();
        HttpResponseMessage response = await host.PostAsync("/v1/chat/completions",
            """{"model":"fake-moe","messages":[{"role":"user","content":"x","name":"bob"}],"presence_penalty":0.5,"tools":[],"metadata":{"a":1},"frobnicate":true}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413()
    {
        await using var host = await FrontDoorHost.StartAsync(settings: new() { ["Moe:FrontDoor:ApiKey"] = FrontDoorHost.Key, ["Moe:FrontDoor:MaxRequestBodyBytes"] = "2048" });
        string big = $$"""{"model":"fake-moe","prompt":"{{new string('x', 4096)}}"}""";
        await AssertError(await host.PostAsync("/v1/completions", big), HttpStatusCode.RequestEntityTooLarge, null, "request_too_large");
        // Without a Content-Length the limit holds too.
        var chunked = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(big))) };
        chunked.Content.Headers.ContentLength = null;
        await AssertError(await host.Client.SendAsync(chunked), HttpStatusCode.RequestEntityTooLarge, null, "request_too_large");
        Assert.Empty(host.Backend.Calls);
    }

    [Fact]
    public async Task An_unknown_model_is_404()
    {
        await using var host = await FrontDoorHost.StartAsync();
        await AssertError(await host.PostAsync("/v1/completions", """{"model":"gpt-4","prompt":"x"}"""), HttpStatusCode.NotFound, "model", "model_not_found");
    }

    [Fact]
    public async Task A_prompt_as_long_as_the_context_is_413()
    {
        await using var host = await FrontDoorHost.StartAsync();
        await AssertError(await host.PostAsync("/v1/completions", $$"""{"model":"fake-moe","prompt":"{{new string('p', 64)}}"}"""),
            HttpStatusCode.RequestEntityTooLarge, "prompt", "context_length_exceeded");
        await AssertError(await host.PostAsync("/v1/chat/completions", $$"""{"model":"fake-moe","messages":[{"role":"user","content":"{{new string('p', 60)}}"}]}"""),
            HttpStatusCode.RequestEntityTooLarge, "messages", "context_length_exceeded");
    }

    [Theory]
    [InlineData(BackendErrorKind.Overloaded, HttpStatusCode.TooManyRequests, "rate_limit_exceeded")]
    [InlineData(BackendErrorKind.Unavailable, HttpStatusCode.ServiceUnavailable, "service_unavailable")]
    [InlineData(BackendErrorKind.UnknownModel, HttpStatusCode.NotFound, "model_not_found")]
    [InlineData(BackendErrorKind.PromptTooLong, HttpStatusCode.RequestEntityTooLarge, "context_length_exceeded")]
    [InlineData(BackendErrorKind.InvalidRequest, HttpStatusCode.BadRequest, "invalid_value")]
    [InlineData(BackendErrorKind.Failed, HttpStatusCode.InternalServerError, "internal_error")]
    public async Task Backend_refusals_map_to_their_status_streamed_or_not(BackendErrorKind kind, HttpStatusCode status, string code)
    {
        var backend = new FakeBackend { FailOnStart = new BackendException(kind, "no", TimeSpan.FromSeconds(3)) };
        await using var host = await FrontDoorHost.StartAsync(backend);
        foreach (string stream in new[] { "false", "true" })
        {
            HttpResponseMessage response = await host.PostAsync("/v1/completions", $$"""{"model":"fake-moe","prompt":"x","stream":{{stream}}}""");
            Assert.Equal(status, response.StatusCode);
            Assert.Equal(code, (await Json(response)).GetProperty("error").GetProperty("code").GetString());
            if (kind == BackendErrorKind.Overloaded) Assert.Equal("3", response.Headers.GetValues("Retry-After").Single());
        }
    }

    [Fact]
    public async Task An_unexpected_failure_is_a_500_without_internals()
    {
        await using var host = await FrontDoorHost.StartAsync(new FakeBackend { FailOnStart = new OperationCanceledException("secret internals") });
        HttpResponseMessage response = await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"x"}""");
        await AssertError(response, HttpStatusCode.InternalServerError, null, "internal_error");
        Assert.DoesNotContain("secret", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_failure_mid_stream_ends_it_with_an_error_event()
    {
        var backend = new FakeBackend { Script = _ => ["a", "b"], FailMidStream = new BackendException(BackendErrorKind.Unavailable, "the rank is shutting down") };
        await using var host = await FrontDoorHost.StartAsync(backend);
        List<string> events = Sse.Events(await (await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"x","stream":true}""")).Content.ReadAsStringAsync());
        Assert.Equal(2, events.Count);
        Assert.Equal("a", Sse.Text(events[..1], chat: false));
        Assert.Equal("service_unavailable", Sse.Json(events[^1]).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Requests_over_the_tenants_requests_per_minute_are_429_with_retry_after()
    {
        await using var host = await FrontDoorHost.StartAsync(settings: Limited("RequestsPerMinute", "1"));
        Assert.Equal(HttpStatusCode.OK, (await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"x"}""")).StatusCode);
        HttpResponseMessage second = await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"x"}""");
        await AssertError(second, HttpStatusCode.TooManyRequests, null, "rate_limit_exceeded");
        Assert.True(int.Parse(second.Headers.GetValues("Retry-After").Single()) >= 1);
        Assert.Single(host.Backend.Calls);
        Assert.Equal(1, host.Backend.OverLimit);
    }

    [Fact]
    public async Task Requests_over_the_tenants_tokens_per_minute_are_429()
    {
        // Each request reserves 1 prompt token + 10 max tokens.
        await using var host = await FrontDoorHost.StartAsync(settings: Limited("TokensPerMinute", "15"));
        Assert.Equal(HttpStatusCode.OK, (await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"x","max_tokens":10}""")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"x","max_tokens":10}""")).StatusCode);
    }

    [Fact]
    public async Task A_tenant_at_its_concurrent_stream_limit_gets_429_until_one_ends()
    {
        var backend = new FakeBackend { Gate = new SemaphoreSlim(0) };
        await using var host = await FrontDoorHost.StartAsync(backend, Limited("MaxConcurrentStreams", "1"));
        Task<HttpResponseMessage> first = host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"x"}""");
        await backend.FirstTokenSent.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await AssertError(await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"x"}"""), HttpStatusCode.TooManyRequests, null, "rate_limit_exceeded");
        Assert.Equal(1, backend.OverLimit);
        backend.Gate.Release(10);
        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.PostAsync("/v1/completions", """{"model":"fake-moe","prompt":"x"}""")).StatusCode);
    }

    [Fact]
    public async Task A_client_that_goes_away_mid_stream_cancels_the_generation()
    {
        var backend = new FakeBackend { Gate = new SemaphoreSlim(0) };
        await using var host = await FrontDoorHost.StartAsync(backend);
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent("""{"model":"fake-moe","prompt":"x","stream":true}""", System.Text.Encoding.UTF8, "application/json"),
        };
        using var cts = new CancellationTokenSource();
        HttpResponseMessage response = await host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Stream body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[256];
        Assert.True(await body.ReadAsync(buffer) > 0);
        Assert.Equal(1, backend.Running);
        await cts.CancelAsync();
        response.Dispose();
        for (int i = 0; i < 300 && Volatile.Read(ref backend.Running) > 0; i++) await Task.Delay(100);
        Assert.Equal(0, backend.Running);
        Assert.Equal(1, backend.Cancelled);
    }

    static Dictionary<string, string?> Limited(string limit, string value) => new()
    {
        ["Moe:FrontDoor:Tenants:0:Name"] = "acme",
        ["Moe:FrontDoor:Tenants:0:Keys:0"] = KeyHashes.Configured(FrontDoorHost.Key),
        [$"Moe:FrontDoor:Tenants:0:{limit}"] = value,
    };
}
