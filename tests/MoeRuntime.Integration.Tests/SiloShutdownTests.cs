using System.Diagnostics;
using System.Text.RegularExpressions;
using MoeRuntime.Grains;

namespace MoeRuntime.Integration.Tests;

/// <summary>
/// What clients see when their silo leaves mid-stream. Stopped (SIGTERM), the silo finishes what fits in its drain
/// timeout and fails the rest with <c>ShuttingDown</c> while it still answers; killed, it answers nothing, and the resuming
/// client notices within its stall timeout. With one silo there is nowhere to resume, so <c>moe generate</c> says so
/// after its bounded resumes. Before, both left the client waiting for ten minutes.
/// </summary>
public sealed partial class SiloShutdownTests
{
    const string Model = "default";
    /// <summary>Longer than either test can take: a stream still open after it hangs.</summary>
    static readonly TimeSpan Hung = TimeSpan.FromSeconds(120);
    /// <summary>The built-in model's context (2048 positions) less room for the prompt: minutes of tokens on this machine.</summary>
    const int LongAnswer = 2000;

    [Fact]
    public async Task AStoppingSiloFinishesWhatFitsItsDrainAndTellsTheOthersItIsShuttingDown()
    {
        await using LocalSilo silo = await LocalSilo.StartAsync("shutdown", ["--Moe:DrainTimeout=00:00:06"]);
        IRouterGrain router = silo.Connection.Client.GetGrain<IRouterGrain>(Model);
        using var hung = new CancellationTokenSource(Hung);
        StreamedRequest[] running = new[] { "The experts", "A second stream" }.Select(p => StreamedRequest.Start(router, p, LongAnswer, hung.Token)).ToArray();
        StreamedRequest fits = StreamedRequest.Start(router, "A short one", 24, hung.Token);
        await Task.WhenAll(running.Select(r => r.FirstToken).Append(fits.FirstToken));

        silo.Process.Terminate();
        // From SIGTERM the rank is not ready: /healthz stops answering 200 (the HTTP port refuses new connections while the
        // router drains), so a Kubernetes readiness probe takes it out of its Services at once.
        using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) })
        {
            await Eventually.UntilAsync("/healthz stops answering 200 once the silo drains", TimeSpan.FromSeconds(5), async () =>
            {
                try
                {
                    using HttpResponseMessage health = await http.GetAsync($"http://127.0.0.1:{silo.Silo.HttpPort}/healthz");
                    return health.StatusCode != System.Net.HttpStatusCode.OK;
                }
                catch (HttpRequestException)
                {
                    return true;
                }
            }, silo.Diagnostics);
        }
        await Task.WhenAll(running.Select(r => r.Ended).Append(fits.Ended));

        Assert.False(hung.IsCancellationRequested, $"a stream was still open after {Hung}: {string.Join("; ", running.Append(fits))}\n{silo.Diagnostics()}");
        Assert.True(fits.Error is null && fits.Tokens.Count == 24, $"the request that fits the drain did not finish: {fits}\n{silo.Diagnostics()}");
        foreach (StreamedRequest request in running)
        {
            var error = Assert.IsType<MoeRequestException>(request.Error, exactMatch: false);
            Assert.Equal(MoeErrorCode.ShuttingDown, error.Code);
            Assert.Contains("shutting down", error.Message);
            Assert.InRange(request.Tokens.Count, 1, LongAnswer - 1);
        }
        Assert.True(await silo.Process.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"the silo did not exit\n{silo.Diagnostics()}");
        Assert.Equal(0, silo.Process.ExitCode);
        Assert.Contains("Drain timeout (00:00:06) reached with 2 requests still running", File.ReadAllText(silo.Process.StderrPath));
    }

    [Fact]
    public async Task EveryCommandLineClientOfAStoppingSiloHearsWhyAtItsDrainTimeout()
    {
        await using LocalSilo silo = await LocalSilo.StartAsync("shutdown-cli", ["--Moe:DrainTimeout=00:00:05"]);
        // Separate client processes poll at their own pace, so some are between two polls when their streams fail: the
        // failure leaves only with their next poll, which must still find the silo answering.
        // Eight client processes and a silo load this machine enough to pause a process for seconds: this test is about the
        // drain's failure, so the clients wait long for a silent rank.
        ChildProcess[] clients = Enumerable.Range(1, 8).Select(i => Generate(silo, $"moe-generate-{i}", $"Stream {i}", "--stall-timeout", "60")).ToArray();
        try
        {
            foreach (ChildProcess client in clients)
                await Eventually.UntilAsync($"{client.Name} prints tokens", TimeSpan.FromSeconds(60), () => Task.FromResult(client.Stdout().Length > 40), () => client.StderrTail());

            silo.Process.Terminate();
            var sinceStop = Stopwatch.StartNew();

            // 5 s of drain, then the failure at once; the clients resume, find no other rank (this cluster has one) and give
            // up after their bounded resumes (about 13 s of back-off); a client that missed the failure would wait longer.
            var heard = TimeSpan.FromSeconds(60);
            foreach (ChildProcess client in clients)
            {
                TimeSpan left = heard - sinceStop.Elapsed;
                Assert.True(await client.WaitForExitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero),
                    $"{client.Name} was still waiting {heard} after its silo was stopped\n{silo.Diagnostics()}");
                string stderr = WithoutLogEntries(File.ReadAllText(client.StderrPath));
                Assert.True(client.ExitCode == 2, $"{client.Name} exit {client.ExitCode}: {stderr}");
                Assert.StartsWith("moe: the rank serving the stream was lost (shutting_down)", stderr);
                Assert.Contains("\nerror: ", stderr);
                Assert.DoesNotContain("Unhandled exception", stderr);
            }
        }
        finally
        {
            foreach (ChildProcess client in clients) client.Dispose();
        }
    }

    [Fact]
    public async Task AClientWhoseSiloIsKilledMidStreamSaysSoWithinItsResponseTimeout()
    {
        await using LocalSilo silo = await LocalSilo.StartAsync("killed", []);
        using ChildProcess client = Generate(silo, "moe-generate", "The experts");
        await Eventually.UntilAsync("the client prints tokens", TimeSpan.FromSeconds(60), () => Task.FromResult(client.Stdout().Length > 40), () => client.StderrTail());

        silo.Process.Kill();

        // Without a token or a heartbeat for 5 s the client takes the rank for lost and resumes; this cluster has no other
        // rank, so its bounded resumes fail and it says so.
        Assert.True(await client.WaitForExitAsync(Hung), $"the client was still waiting {Hung} after its silo was killed\n{client.StderrTail()}");
        string stderr = WithoutLogEntries(File.ReadAllText(client.StderrPath));
        Assert.True(client.ExitCode == 2, $"exit {client.ExitCode}: {stderr}");
        Assert.StartsWith("moe: the rank serving the stream was lost (rank_lost)", stderr);
        Assert.Contains("\nerror: ", stderr);
        Assert.DoesNotContain("Unhandled exception", stderr);
    }

    /// <summary>
    /// Standard error without the client library's log entries (a timestamped level line and its indented message, such as
    /// the warning that a gateway connection closed): what is left is what the command itself says to its user.
    /// </summary>
    static string WithoutLogEntries(string stderr) => LogEntry().Replace(stderr, "");

    [GeneratedRegex(@"^\d{2}:\d{2}:\d{2}\.\d{3} (trce|dbug|info|warn|fail|crit): .*\n(^ {6}.*\n)*", RegexOptions.Multiline)]
    private static partial Regex LogEntry();

    /// <summary>A <c>moe generate</c> client process asking <paramref name="silo"/>'s gateway for a long answer.</summary>
    static ChildProcess Generate(LocalSilo silo, string name, string prompt, params string[] more) => ChildProcess.Start(name, silo.LogDirectory, Binaries.Dotnet,
        [Binaries.Cli, "generate", "--gateway", silo.Silo.GatewayPort.ToString(), "--prompt", prompt, "--max-tokens", LongAnswer.ToString(), .. more]);
}
