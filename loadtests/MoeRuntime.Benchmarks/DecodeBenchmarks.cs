using MoeRuntime.LoadTests;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Layers;
using MoeRuntime.Model.Tokenization;

namespace MoeRuntime.Benchmarks;

/// <summary>Whole forward passes of the default model: decode steps over prefilled prompts, and one long prefill.</summary>
static class DecodeBenchmarks
{
    const int PromptLength = 64;
    const int PrefillLength = 256;

    public static string Run(BenchModel bench, IReadOnlyList<int> batches, SamplingPlan plan)
    {
        int[] text = new ByteLevelTokenizer().Encode(SampleText.English, addBeginOfSequence: false).ToArray();
        var decodes = batches.ToDictionary(n => n, n => new DecodeBatch(bench.Model, text, n, PromptLength));
        try
        {
            int[] prefill = Enumerable.Range(0, PrefillLength).Select(p => text[p % text.Length]).ToArray();
            // A decode step changes its caches, so it runs once per sample; the prefill starts from an empty cache every time.
            var cases = batches.Select(n => new BenchCase($"decode {n}", decodes[n].Step, Repeatable: false)).ToList();
            cases.Add(new BenchCase("prefill", () =>
            {
                using KvCache cache = bench.Model.CreateCache();
                bench.Model.Forward([new SequenceStep(cache, prefill)]).Dispose();
            }));
            Dictionary<string, Timing> t = Sampler.Measure(cases, plan).ToDictionary(x => x.Name);

            var table = new MarkdownTable("forward pass", "sequences", "new tokens", "median ms", "p10 – p90 ms", "tokens/s", "tokens/s p10 – p90");
            foreach (int n in batches)
            {
                Timing d = t[$"decode {n}"];
                table.Add("decode step", n.ToString(), n.ToString(), Format.Ms(d.Median), Format.MsSpread(d),
                    Format.Rate(Format.PerSecond(d, n, 1)), Format.RateSpread(d, n, 1));
            }
            Timing p = t["prefill"];
            table.Add($"prefill {PrefillLength}-token prompt", "1", PrefillLength.ToString(), Format.Ms(p.Median), Format.MsSpread(p),
                Format.Rate(Format.PerSecond(p, PrefillLength, 1)), Format.RateSpread(p, PrefillLength, 1));

            int last = decodes[batches[0]].ContextLength;
            return "### Default model forward passes\n\n" +
                $"Decode steps feed one token per sequence after a {PromptLength}-token prefill; over the run the context " +
                $"grows from {PromptLength} to {last} positions. Tokens/s counts the new tokens of a step.\n\n" + table.Render();
        }
        finally
        {
            foreach (DecodeBatch batch in decodes.Values) batch.Dispose();
        }
    }
}
