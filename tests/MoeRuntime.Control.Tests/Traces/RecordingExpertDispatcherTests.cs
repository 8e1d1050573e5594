using System.Text;
using System.Text.Json;
using MoeRuntime.Traces;
using MoeRuntime.Model.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Control.Tests.Traces;

public class RecordingExpertDispatcherTests
{
    sealed class CountingDispatcher : IExpertDispatcher
    {
        public int Calls;
        public Task DispatchAsync(int layer, RoutingPlan plan, Tensor moeInput, Tensor output, DispatchRows rows, CancellationToken cancellationToken)
        {
            Calls++;
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task Records_match_the_plans_and_carry_no_token_ids_or_request_keys()
    {
        var rows = new DispatchRows([0xABCDEF01UL, 0xABCDEF01UL, 0x42UL], [7, 8, 0]);
        int[,] chosen0 = { { 3, 1 }, { 1, 0 }, { 2, 3 } };
        float[,] weights0 = { { 0.7f, 0.3f }, { 0.55f, 0.45f }, { 0.9f, 0.1f } };
        int[,] chosen1 = { { 0, 2 }, { 2, 1 }, { 3, 0 } };
        float[,] weights1 = { { 0.6f, 0.4f }, { 0.8f, 0.2f }, { 0.5f, 0.5f } };

        using var stream = new MemoryStream();
        var inner = new CountingDispatcher();
        var recorder = new RoutingTraceRecorder(new RoutingTraceWriter(stream, TraceFiles.Header(layers: 2, experts: 4), leaveOpen: true));
        var dispatcher = new RecordingExpertDispatcher(inner, recorder);
        using Tensor input = zeros(3, 4), output = zeros(3, 4);
        // Two steps of two layers each.
        for (int step = 0; step < 2; step++)
            foreach (var (layer, chosen, weights) in new[] { (0, chosen0, weights0), (1, chosen1, weights1) })
            {
                using RoutingPlan plan = RoutingPlan.Build(tensor(ToLong(chosen)).reshape(3, 2), tensor(ToFloat(weights)).reshape(3, 2), 4);
                await dispatcher.DispatchAsync(layer, plan, input, output, rows, CancellationToken.None);
            }
        await recorder.DisposeAsync();
        Assert.Equal(4, inner.Calls);
        Assert.Equal(2, recorder.Steps);

        stream.Position = 0;
        using var reader = new RoutingTraceReader(stream, leaveOpen: true);
        List<RoutingTraceRecord> records = reader.ReadAll().ToList();
        // One record per (step, layer, request run): 2 steps x 2 layers x 2 requests.
        Assert.Equal(8, records.Count);
        Assert.Equal([0L, 0, 0, 0, 1, 1, 1, 1], records.Select(r => r.Step));
        Assert.Equal([0, 0, 1, 1, 0, 0, 1, 1], records.Select(r => r.Layer));
        RoutingTraceRecord first = records[0], second = records[1];
        Assert.Equal([7L, 8L], first.Positions);
        Assert.Equal([3, 1, 1, 0], first.Experts);
        Assert.Equal([0.7f, 0.3f, 0.55f, 0.45f], first.Weights);
        Assert.Equal([0L], second.Positions);
        Assert.Equal([2, 3], second.Experts);
        Assert.Equal([3, 0], records[3].Experts);
        // Requests are stable pseudonyms within the trace, not the keys.
        Assert.Equal(first.Request, records[4].Request);
        Assert.NotEqual(first.Request, second.Request);
        Assert.DoesNotContain("abcdef01", first.Request);
        Assert.NotEqual(0x42UL.ToString("x16"), second.Request);

        // Every record line has exactly the documented fields.
        foreach (string line in Encoding.UTF8.GetString(stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1))
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            Assert.Equal(["step", "request", "layer", "positions", "experts", "weights"], doc.RootElement.EnumerateObject().Select(p => p.Name));
        }
    }

    [Fact]
    public async Task Rows_without_names_are_recorded_under_one_anonymous_request()
    {
        using var stream = new MemoryStream();
        var recorder = new RoutingTraceRecorder(new RoutingTraceWriter(stream, TraceFiles.Header(), leaveOpen: true));
        recorder.Record(0, 2, [0, 1, 2, 3], [0.5f, 0.5f, 0.5f, 0.5f], [], []);
        await recorder.DisposeAsync();
        stream.Position = 0;
        using var reader = new RoutingTraceReader(stream);
        RoutingTraceRecord record = Assert.Single(reader.ReadAll());
        Assert.Equal([0L, 1L], record.Positions);
    }

    [Fact]
    public void Header_for_a_model_counts_an_experts_float32_matrices()
    {
        var config = new MoeRuntime.Model.Configuration.ModelConfig { HiddenSize = 256, ExpertIntermediateSize = 1024, LayerCount = 4, ExpertCount = 8, ExpertsPerToken = 2 };
        RoutingTraceHeader header = RecordingExpertDispatcher.HeaderFor(config, "default");
        Assert.Equal(3L * 256 * 1024 * 4, header.ExpertBytes);
        Assert.Equal((4, 8, 2), (header.Layers, header.Experts, header.TopK));
    }

    static long[] ToLong(int[,] a) => a.Cast<int>().Select(x => (long)x).ToArray();
    static float[] ToFloat(float[,] a) => a.Cast<float>().ToArray();
}
