using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>
/// One page in Debian's headless <c>chromium</c>, driven over the DevTools protocol on a loopback port that chromium
/// picks (read from the profile's <c>DevToolsActivePort</c>): the page's own timers run in real time, and the test
/// evaluates expressions in it as it goes. Every step is bounded in time; disposing ends chromium.
/// </summary>
sealed class ChromiumPage : IAsyncDisposable
{
    const string Executable = "/usr/bin/chromium";
    static readonly TimeSpan StepLimit = TimeSpan.FromSeconds(30);

    readonly ChildProcess _chromium;
    readonly ClientWebSocket _socket = new();
    readonly ConcurrentDictionary<int, TaskCompletionSource<JsonObject>> _pending = new();
    readonly SemaphoreSlim _sending = new(1, 1);
    readonly CancellationTokenSource _stop = new();
    Task _receiving = Task.CompletedTask;
    string? _session;
    int _nextId;

    ChromiumPage(ChildProcess chromium) => _chromium = chromium;

    /// <summary>Starts chromium with a fresh profile in <paramref name="directory"/> and opens <paramref name="url"/> in a 1280 × 900 page.</summary>
    public static async Task<ChromiumPage> OpenAsync(string directory, string url)
    {
        Assert.True(File.Exists(Executable), $"{Executable} is missing: apt-get install chromium (tests/run does)");
        string profile = Directory.CreateDirectory(Path.Combine(directory, $"devtools-{Guid.NewGuid():N}")).FullName;
        var chromium = ChildProcess.Start("chromium-devtools", directory, Executable,
        [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,900",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", $"--user-data-dir={profile}", "about:blank",
        ]);
        var page = new ChromiumPage(chromium);
        try
        {
            string portFile = Path.Combine(profile, "DevToolsActivePort");
            string[] lines = [];
            await Eventually.UntilAsync("chromium writes its DevToolsActivePort", StepLimit, () =>
            {
                if (chromium.HasExited) throw new Xunit.Sdk.XunitException($"chromium exited with code {chromium.ExitCode}\n{chromium.StderrTail()}");
                lines = File.Exists(portFile) ? File.ReadAllLines(portFile) : [];
                return Task.FromResult(lines.Length >= 2);
            }, () => chromium.StderrTail());
            using (var connect = new CancellationTokenSource(StepLimit))
                await page._socket.ConnectAsync(new Uri($"ws://127.0.0.1:{int.Parse(lines[0])}{lines[1]}"), connect.Token);
            page._receiving = page.ReceiveAsync();
            JsonObject target = await page.SendAsync("Target.createTarget", new JsonObject { ["url"] = url }, session: null);
            JsonObject attached = await page.SendAsync("Target.attachToTarget",
                new JsonObject { ["targetId"] = target["targetId"]!.GetValue<string>(), ["flatten"] = true }, session: null);
            page._session = attached["sessionId"]!.GetValue<string>();
            return page;
        }
        catch
        {
            await page.DisposeAsync();
            throw;
        }
    }

    /// <summary>The value of a JavaScript expression in the page (a promise is awaited); a thrown error fails the test with its text.</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression)
    {
        JsonObject answer = await SendAsync("Runtime.evaluate",
            new JsonObject { ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = true }, _session);
        if (answer["exceptionDetails"] is JsonObject exception)
            throw new InvalidOperationException($"the page threw: {exception.ToJsonString()}");
        return answer["result"]?["value"]?.DeepClone();
    }

    public string Diagnostics() => _chromium.StderrTail();

    async Task<JsonObject> SendAsync(string method, JsonObject parameters, string? session)
    {
        int id = Interlocked.Increment(ref _nextId);
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters };
        if (session is not null) message["sessionId"] = session;
        var answer = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        await _sending.WaitAsync(_stop.Token);
        try
        {
            await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, _stop.Token);
        }
        finally
        {
            _sending.Release();
        }
        JsonObject reply;
        try
        {
            reply = await answer.Task.WaitAsync(StepLimit);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"chromium did not answer {method} within {StepLimit.TotalSeconds:F0} s\n{_chromium.StderrTail()}");
        }
        if (reply["error"] is JsonObject error) throw new InvalidOperationException($"chromium refused {method}: {error.ToJsonString()}");
        return reply["result"]!.AsObject();
    }

    /// <summary>Answers go to their callers by id; events (no id) are not needed and are dropped.</summary>
    async Task ReceiveAsync()
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (!_stop.IsCancellationRequested && _socket.State == WebSocketState.Open)
            {
                WebSocketReceiveResult part = await _socket.ReceiveAsync(buffer, _stop.Token);
                if (part.MessageType == WebSocketMessageType.Close) break;
                message.Write(buffer, 0, part.Count);
                if (!part.EndOfMessage) continue;
                var node = JsonNode.Parse(message.ToArray())!.AsObject();
                message.SetLength(0);
                if (node["id"] is JsonValue id && _pending.TryRemove(id.GetValue<int>(), out var waiting)) waiting.TrySetResult(node);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException)
        {
            // Chromium went away or the page is being disposed: the callers still waiting time out with chromium's stderr.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _receiving.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            // Chromium is killed below either way.
        }
        _socket.Dispose();
        _chromium.Dispose();
        _stop.Dispose();
        _sending.Dispose();
    }
}
