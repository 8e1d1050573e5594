using System.Diagnostics;
using MoeRuntime.Client;
using MoeRuntime.Grains;
using Xunit.Abstractions;

namespace MoeRuntime.Integration.Tests;

/// <summary>
/// Killing a rank mid-run: every in-flight request ends (completes with the reference answer, since
/// expert calls are pure and retried on the surviving ranks, or fails with a clear error) and none
/// hangs; once the cluster has noticed, new requests are served correctly by the two ranks left.
/// </summary>
public sealed class RankFailureTests(ProcessCluster cluster, ITestOutputHelper output) : IClassFixture<ProcessCluster>
{
    const int VictimRank = 2;
    const int LongAnswer = 400;
    const int ShortAnswer = 24;
    static readonly TimeSpan EndLimit = TimeSpan.FromSeconds(60);
    static readonly TimeSpan NoticeLimit = TimeSpan.FromSeconds(90);

    static readonly string[] InFlightPrompts = ["The rank goes down", "Experts, retried elsewhere", "0123456789", "Streams keep flowing"];
    static readonly string[] AfterwardsPrompts = ["Two ranks left", "The experts moved"];

    [Fact]
    public async Task KillingARankEndsEveryInFlightRequestAndLaterRequestsMatchTheReference()
    {
        IReadOnlyList<int>[] expectedLong = ReferenceAnswers.Greedy(cluster.ModelDirectory, InFlightPrompts, LongAnswer);
        IReadOnlyList<int>[] expectedShort = ReferenceAnswers.Greedy(cluster.ModelDirectory, AfterwardsPrompts, ShortAnswer);

        // Through ranks 0 and 1 only: a client whose gateway is the killed rank loses its connection, which is not what this tests.
        await using MoeClusterConnection connection = await cluster.ConnectThroughAsync(0, 1);
        IRouterGrain router = connection.Client.GetGrain<IRouterGrain>(ProcessCluster.ModelName);
        using var abandon = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        Stopwatch? killed = null;
        StreamedRequest[] inFlight = InFlightPrompts.Select(p => StreamedRequest.Start(router, p, LongAnswer, abandon.Token)).ToArray();
        try
        {
            await Task.WhenAll(inFlight.Select(r => r.FirstToken)).WaitAsync(EndLimit);
            Assert.All(inFlight, r => Assert.True(r.Error is null && r.Tokens.Count < LongAnswer, $"before the kill: {r}"));

            cluster.Kill(VictimRank);
            killed = Stopwatch.StartNew();
            try
            {
                await Task.WhenAll(inFlight.Select(r => r.Ended)).WaitAsync(EndLimit);
            }
            catch (TimeoutException)
            {
                Assert.Fail($"requests still running {EndLimit.TotalSeconds:F0} s after rank {VictimRank} was killed:\n" +
                    string.Join('\n', inFlight.Select(r => (r.Ended.IsCompleted ? "ended " : "HUNG ") + r)) + "\n" + cluster.Diagnostics());
            }
        }
        finally
        {
            abandon.Cancel();
        }

        for (int i = 0; i < inFlight.Length; i++)
        {
            StreamedRequest request = inFlight[i];
            output.WriteLine(request.Error is null ? request.ToString() : $"'{request.Prompt}': {request.Tokens.Count} tokens, failed with {request.Error.GetType().Name}");
            if (request.Error is null)
                Assert.Equal(expectedLong[i], request.Tokens);
            else
                Assert.True(request.Error is MoeRequestException or OrleansException, $"unclear failure: {request.Error}");
        }

        await Eventually.UntilAsync($"the cluster no longer lists rank {VictimRank} as active", NoticeLimit,
            async () => !(await ProcessCluster.ActiveRanksAsync(connection.Client)).Contains(VictimRank), cluster.Diagnostics);
        output.WriteLine($"rank {VictimRank} left the active ranks {killed!.Elapsed.TotalSeconds:F1} s after it was killed");
        for (int i = 0; i < AfterwardsPrompts.Length; i++)
        {
            GenerateResponse response = await router.GenerateAsync(new GenerateRequest
            {
                Prompt = AfterwardsPrompts[i],
                Sampling = SamplingParameters.Greedy(ShortAnswer) with { StopTokenIds = [] },
            });
            Assert.Equal(expectedShort[i], response.TokenIds);
        }
    }
}
