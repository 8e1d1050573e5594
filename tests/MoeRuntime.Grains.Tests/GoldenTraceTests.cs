using System.Collections.Concurrent;
using System.Diagnostics;
using MoeRuntime.Grains.Diagnostics;

namespace MoeRuntime.Grains.Tests;

/// <summary>The span tree of one request across the client, the router and expert grains on three ranks.</summary>
public sealed class GoldenTraceTests(ThreeRankFixture fixture) : IClassFixture<ThreeRankFixture>
{
    [Fact]
    public async Task OneRequestMakesOneTraceOfTheExpectedShape()
    {
        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name.StartsWith("MoeRuntime", StringComparison.Ordinal) || source.Name.StartsWith("Microsoft.Orleans", StringComparison.Ordinal) || source.Name == "test",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);
        using var testSource = new ActivitySource("test");

        ActivityTraceId trace;
        using (Activity client = testSource.StartActivity("client")!)
        {
            trace = client.TraceId;
            await fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName).GenerateAsync(new GenerateRequest
            {
                Prompt = "trace me",
                Sampling = SamplingParameters.Greedy(20) with { StopTokenIds = [] },
                Tenant = "tenant-42",
            });
        }
        await Task.Delay(200); // spans of expert calls stop on their own threads

        var mine = spans.Where(s => s.TraceId == trace).ToList();
        Activity Single(string name) => Assert.Single(mine, s => s.OperationName == name);
        bool Under(Activity span, Activity ancestor)
        {
            var byId = mine.ToDictionary(s => s.SpanId);
            for (ActivitySpanId id = span.ParentSpanId; byId.TryGetValue(id, out Activity? parent); id = parent.ParentSpanId)
                if (parent.SpanId == ancestor.SpanId) return true;
            return false;
        }

        Activity request = Single("moe.request");
        Assert.Equal("text_completion", request.GetTagItem("gen_ai.operation.name"));
        Assert.Equal(20, request.GetTagItem("gen_ai.usage.output_tokens"));
        // The tenant as a keyed pseudonym (HMAC under the cluster's key; TenantPseudonymsTests), not the name or its plain hash.
        string tenant = Assert.IsType<string>(request.GetTagItem("moe.tenant"));
        Assert.Matches("^[0-9a-f]{16}$", tenant);
        Assert.NotEqual(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("tenant-42"u8).AsSpan(0, 8)), tenant);
        Assert.DoesNotContain(mine, s => s.Tags.Any(t => t.Value?.Contains("trace me") == true || t.Value?.Contains("tenant-42") == true));

        foreach (string stage in new[] { "moe.tokenize", "moe.queue", "moe.prefill", "moe.decode" })
            Assert.Equal(request.SpanId, Single(stage).ParentSpanId);
        Activity decode = Single("moe.decode");
        Assert.Contains(decode.Events, e => e.Name == "moe.tokens");

        var steps = mine.Where(s => s.OperationName == "moe.step").ToList();
        Assert.Equal(20, steps.Count);
        Assert.All(steps, step => Assert.True(Under(step, request)));
        var dispatches = mine.Where(s => s.OperationName == "moe.expert_dispatch").ToList();
        Assert.Equal(20 * 4, dispatches.Count);
        Assert.All(dispatches, d => Assert.Contains(steps, s => s.SpanId == d.ParentSpanId));

        var experts = mine.Where(s => s.OperationName == "moe.expert").ToList();
        Assert.NotEmpty(experts);
        Assert.All(experts, e => Assert.Contains(dispatches, d => Under(e, d)));
        Assert.Equal(new[] { 0, 1, 2 }, experts.Select(e => (int)e.GetTagItem("moe.rank")!).Distinct().Order());
        Assert.All(mine.Where(s => s.OperationName == "moe.tier_fetch"), f => Assert.Contains(experts, e => e.SpanId == f.ParentSpanId));
    }

    [Theory]
    [InlineData("line\nbreak", "character 5 is not one of them")]
    [InlineData("<script>", "character 1 is not one of them")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123456789", "at most 64 characters, this one has 70")]
    public async Task ARequestIdOutsideTheRuleIsRefusedBeforeItReachesLogsOrSpans(string requestId, string why)
    {
        IRouterGrain router = fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);
        var request = new GenerateRequest { Prompt = "a refused id", RequestId = requestId, Sampling = SamplingParameters.Greedy(2) };
        var error = await Assert.ThrowsAsync<MoeRequestException>(() => router.GenerateAsync(request));
        Assert.Equal(MoeErrorCode.InvalidRequest, error.Code);
        Assert.Contains($"RequestId: a request id", error.Message);
        Assert.Contains(why, error.Message);
        Assert.DoesNotContain(requestId, error.Message);
        // A plain id of up to 64 characters is kept as given.
        GenerateResponse served = await router.GenerateAsync(request with { RequestId = "trace:run-1.step_2" });
        Assert.Equal("trace:run-1.step_2", served.RequestId);
    }
}
