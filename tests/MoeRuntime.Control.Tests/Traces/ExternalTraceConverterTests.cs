using MoeRuntime.Traces;

namespace MoeRuntime.Control.Tests.Traces;

public class ExternalTraceConverterTests
{
    static List<RoutingTraceRecord> Read(string path, out RoutingTraceHeader header)
    {
        using RoutingTraceReader reader = RoutingTraceReader.Open(path);
        header = reader.Header;
        return reader.ReadAll().ToList();
    }

    [Fact]
    public async Task Per_token_records_with_full_gating_distributions_map_to_steps_experts_and_weights()
    {
        using var files = new TraceFiles();
        // Mixtral-style dump: one object per token and layer, token ids and text alongside (must be dropped).
        string input = files.Write("mixtral.jsonl", """
            {"sample_id":"prompt-17","token_idx":0,"token_id":1734,"text":"secret","layer":0,"topk_ids":[3,1],"gating_probs":[0.05,0.2,0.05,0.6,0.02,0.03,0.02,0.03]}
            {"sample_id":"prompt-17","token_idx":0,"token_id":1734,"text":"secret","layer":1,"topk_ids":[0,7],"gating_probs":[0.5,0.1,0.05,0.05,0.05,0.05,0.05,0.15]}
            {"sample_id":"prompt-17","token_idx":1,"token_id":99,"text":"secret","layer":0,"topk_ids":[3,6],"gating_probs":[0.1,0.1,0.1,0.35,0.05,0.05,0.2,0.05]}
            {"sample_id":"prompt-17","token_idx":1,"token_id":99,"text":"secret","layer":1,"topk_ids":[2,0],"gating_probs":[0.2,0.1,0.4,0.05,0.05,0.1,0.05,0.05]}

            """);
        string output = files.Path("converted.jsonl");
        TraceConversionResult result = await ExternalTraceConverter.ConvertAsync(input, output, new TraceConversionOptions { Model = "mixtral-8x7b" });
        Assert.Equal(4, result.InputRecords);
        Assert.Equal(2, result.Steps);

        List<RoutingTraceRecord> records = Read(output, out RoutingTraceHeader header);
        Assert.Equal(new RoutingTraceHeader { Model = "mixtral-8x7b", Layers = 2, Experts = 8, TopK = 2 }, header);
        Assert.Equal([(0L, 0), (0L, 1), (1L, 0), (1L, 1)], records.Select(r => (r.Step, r.Layer)));
        Assert.Equal([3, 1], records[0].Experts);
        Assert.Equal([0.6f, 0.2f], records[0].Weights);
        Assert.Equal([2, 0], records[3].Experts);
        Assert.Equal([0.4f, 0.2f], records[3].Weights);
        Assert.Equal([1L], records[2].Positions);
        // The sample id became one pseudonym, and nothing of the token ids or text survived.
        Assert.Single(records.Select(r => r.Request).Distinct());
        Assert.DoesNotContain("prompt-17", records[0].Request);
        string text = File.ReadAllText(output);
        Assert.DoesNotContain("secret", text);
        Assert.DoesNotContain("token_id", text);
    }

    [Fact]
    public async Task Problem_ids_of_a_benchmark_dump_keep_its_sequences_apart()
    {
        using var files = new TraceFiles();
        // The shape of a vLLM profiler dump over a benchmark: token positions restart at 0 for every problem.
        string input = files.Write("benchmark.jsonl", """
            {"dataset": "humaneval", "problem_id": 0, "layer": 0, "experts": [6, 5], "gating_probs": [0.7, 0.3], "token_idx": 0}
            {"dataset": "humaneval", "problem_id": 0, "layer": 0, "experts": [5, 3], "gating_probs": [0.8, 0.2], "token_idx": 1}
            {"dataset": "humaneval", "problem_id": 1, "layer": 0, "experts": [1, 2], "gating_probs": [0.6, 0.4], "token_idx": 0}
            """);
        string output = files.Path("converted.jsonl");
        TraceConversionResult result = await ExternalTraceConverter.ConvertAsync(input, output);
        Assert.Equal(3, result.Steps);
        List<RoutingTraceRecord> records = Read(output, out _);
        Assert.Equal([(0L, 0L), (1L, 1L), (2L, 0L)], records.Select(r => (r.Step, r.Positions[0])));
        Assert.Equal(records[0].Request, records[1].Request);
        Assert.NotEqual(records[0].Request, records[2].Request);
    }

    [Fact]
    public async Task A_json_array_in_layer_major_order_is_regrouped_by_token()
    {
        using var files = new TraceFiles();
        string input = files.Write("array.json", """
            [
              {"layer": 0, "position": 0, "experts": [1, 2], "probs": [0.7, 0.3]},
              {"layer": 0, "position": 1, "experts": [2, 3], "probs": [0.6, 0.4]},
              {"layer": 1, "position": 0, "experts": [0, 1], "probs": [0.5, 0.5]},
              {"layer": 1, "position": 1, "experts": [3, 0], "probs": [0.9, 0.1]}
            ]
            """);
        string output = files.Path("converted.jsonl");
        await ExternalTraceConverter.ConvertAsync(input, output, new TraceConversionOptions { Experts = 6, ExpertBytes = 123 });
        List<RoutingTraceRecord> records = Read(output, out RoutingTraceHeader header);
        Assert.Equal(6, header.Experts);
        Assert.Equal(123, header.ExpertBytes);
        Assert.Equal([(0L, 0, 0L), (0L, 1, 0L), (1L, 0, 1L), (1L, 1, 1L)], records.Select(r => (r.Step, r.Layer, r.Positions[0])));
        Assert.Equal([3, 0], records[3].Experts);
        Assert.Equal([0.9f, 0.1f], records[3].Weights);
    }

    [Fact]
    public async Task Probability_only_records_take_the_top_k_and_explicit_steps_keep_their_order()
    {
        using var files = new TraceFiles();
        string input = files.Write("probs.jsonl", """
            {"step": 7, "layer_idx": 0, "pos": 3, "scores": [0.1, 0.5, 0.3, 0.1]}
            {"step": 2, "layer_idx": 0, "pos": 2, "scores": [0.6, 0.1, 0.1, 0.2]}
            """);
        string output = files.Path("converted.jsonl");
        await Assert.ThrowsAsync<RoutingTraceFormatException>(() => ExternalTraceConverter.ConvertAsync(input, output));
        await ExternalTraceConverter.ConvertAsync(input, output, new TraceConversionOptions { TopK = 2 });
        List<RoutingTraceRecord> records = Read(output, out RoutingTraceHeader header);
        Assert.Equal(4, header.Experts);
        Assert.Equal([(0L, 2L), (1L, 3L)], records.Select(r => (r.Step, r.Positions[0])));
        Assert.Equal([0, 3], records[0].Experts);
        Assert.Equal([1, 2], records[1].Experts);
        Assert.Equal([0.5f, 0.3f], records[1].Weights);
    }

    [Theory]
    [InlineData("""{"token_idx":0,"experts":[1,2]}""", "no layer")]
    [InlineData("""{"layer":0,"experts":[1,2]}""", "no token position")]
    [InlineData("""{"layer":0,"token_idx":0,"experts":[1,1]}""", "twice")]
    [InlineData("""{"layer":0,"token_idx":0,"experts":[1,5],"probs":[0.5,0.2,0.3]}""", "outside its probability vector")]
    [InlineData("""{"layer":0,"token_idx":0,"experts":[1,"a"]}""", "expected a number")]
    [InlineData("""{"layer":0,"token_idx":0""", "not valid JSON")]
    public async Task Malformed_external_records_name_their_line(string line, string message)
    {
        using var files = new TraceFiles();
        string input = files.Write("bad.jsonl", """{"layer":0,"token_idx":0,"experts":[0,1]}""" + "\n" + line + "\n");
        var e = await Assert.ThrowsAsync<RoutingTraceFormatException>(() => ExternalTraceConverter.ConvertAsync(input, files.Path("out.jsonl")));
        Assert.Contains("line 2", e.Message);
        Assert.Contains(message, e.Message);
    }
}
