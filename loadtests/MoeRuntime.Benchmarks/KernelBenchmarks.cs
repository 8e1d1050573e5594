using MoeRuntime.LoadTests;
using MoeRuntime.Model.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Benchmarks;

/// <summary>
/// The matmul ceiling and one expert, stacked and naive, timed in one interleaved group so that the
/// expert-to-ceiling ratios compare numbers taken under the same load.
/// </summary>
static class KernelBenchmarks
{
    const int Square = 2048;
    const string SquareName = "2048x2048 · 2048x2048";

    public static string[] Run(BenchModel bench, IReadOnlyList<int> batches, SamplingPlan plan)
    {
        int h = bench.Config.HiddenSize, inter = bench.Config.ExpertIntermediateSize;
        using var scope = NewDisposeScope();
        using ExpertFfn stacked = bench.LoadExpert();
        using NaiveExpertFfn naive = bench.LoadNaiveExpert();
        manual_seed(1);
        Tensor squareA = randn(Square, Square), squareB = randn(Square, Square);
        // Same shape as the expert's first projection: tokens [n, H] times the stacked gate/up [H, 2I].
        Tensor gateUp = randn(h, 2 * inter);
        Dictionary<int, Tensor> inputs = batches.ToDictionary(n => n, n => randn(n, h));
        CheckSameResult(stacked, naive, inputs[batches[0]]);

        var cases = new List<BenchCase> { new(SquareName, () => Dispose(matmul(squareA, squareB))) };
        foreach (int n in batches)
        {
            Tensor x = inputs[n];
            cases.Add(new($"shape {n}", () => Dispose(matmul(x, gateUp))));
            cases.Add(new($"stacked {n}", () => Dispose(stacked.Forward(x))));
            cases.Add(new($"naive {n}", () => Dispose(naive.Forward(x))));
        }
        Dictionary<string, Timing> t = Sampler.Measure(cases, plan).ToDictionary(x => x.Name);

        Timing square = t[SquareName];
        double squareFlops = 2.0 * Square * Square * Square;
        double squareRate = Format.PerSecond(square, squareFlops, 1e9);
        var ceiling = new MarkdownTable("matmul (float32)", "median ms", "p10 – p90 ms", "GFLOP/s", "GFLOP/s p10 – p90");
        ceiling.Add(SquareName, Format.Ms(square.Median), Format.MsSpread(square), Format.Rate(squareRate), Format.RateSpread(square, squareFlops, 1e9));
        var expert = new MarkdownTable("batch", "variant", "median ms", "p10 – p90 ms", "GFLOP/s", "GFLOP/s p10 – p90",
            "of 2048² matmul", "of same-shape matmul", "stacked vs naive");
        foreach (int n in batches)
        {
            Timing shape = t[$"shape {n}"], s = t[$"stacked {n}"], v = t[$"naive {n}"];
            double shapeFlops = 2.0 * n * h * 2 * inter;
            double shapeRate = Format.PerSecond(shape, shapeFlops, 1e9);
            ceiling.Add($"{n}x{h} · {h}x{2 * inter}", Format.Ms(shape.Median), Format.MsSpread(shape), Format.Rate(shapeRate), Format.RateSpread(shape, shapeFlops, 1e9));

            // Gate/up projection plus down projection; silu and the product are not counted.
            double flops = 2.0 * n * h * 2 * inter + 2.0 * n * inter * h;
            foreach (var (variant, timing) in new[] { ("stacked (ExpertFfn)", s), ("naive (3 linear)", v) })
            {
                double rate = Format.PerSecond(timing, flops, 1e9);
                expert.Add(n.ToString(), variant, Format.Ms(timing.Median), Format.MsSpread(timing), Format.Rate(rate),
                    Format.RateSpread(timing, flops, 1e9), Format.Percent(rate / squareRate), Format.Percent(rate / shapeRate),
                    ReferenceEquals(timing, s) ? Format.Ratio(v.Median / s.Median) : "");
            }
        }
        return
        [
            "### Ceiling: raw matmul\n\n" + ceiling.Render(),
            $"### One expert FFN (H={h}, I={inter})\n\n" +
            "GFLOP/s counts both projections (2·n·H·2I + 2·n·I·H). \"of same-shape matmul\" divides by the " +
            "[n,H]·[H,2I] matmul at the same batch, \"of 2048² matmul\" by the square one; " +
            "\"stacked vs naive\" is naive time over stacked time.\n\n" + expert.Render(),
        ];
    }

    static void Dispose(Tensor t) => t.Dispose();

    /// <summary>A baseline that computed something else would make the comparison meaningless.</summary>
    static void CheckSameResult(ExpertFfn stacked, NaiveExpertFfn naive, Tensor x)
    {
        using var scope = NewDisposeScope();
        double diff = (stacked.Forward(x) - naive.Forward(x)).abs().max().item<float>();
        if (diff > 1e-4) throw new InvalidOperationException($"naive and stacked experts differ by {diff}");
    }
}
