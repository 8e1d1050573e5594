using MoeRuntime.Control.Replay;

namespace MoeRuntime.Control.Tests.Replay;

/// <summary>
/// Seeded synthetic routing with the shape published Mixtral traces have: per layer a Zipf-like
/// popularity over the experts (a different ranking per layer), temporal locality (a token often keeps
/// an expert the previous token used at that layer), and a popularity shift halfway (a new ranking,
/// as when the topic of the text changes). One token per step, as in single-sequence decoding.
/// </summary>
static class MixtralLikeTraces
{
    public static ReplayTrace Generate(int seed, int steps = 2000, int layers = 8, int experts = 8, int topK = 2,
        double zipf = 1.1, double locality = 0.35, bool shift = true, long expertBytes = 352L << 20)
    {
        var random = new Random(seed);
        double[][] popularity = Rankings(random, layers, experts, zipf);
        var previous = new List<int>[layers];
        for (int l = 0; l < layers; l++) previous[l] = [];
        var all = new List<IReadOnlyList<int>[]>(steps);
        for (int s = 0; s < steps; s++)
        {
            if (shift && s == steps / 2) popularity = Rankings(random, layers, experts, zipf);
            var step = new IReadOnlyList<int>[layers];
            for (int l = 0; l < layers; l++)
            {
                var chosen = new List<int>(topK);
                while (chosen.Count < topK)
                {
                    int e = previous[l].Count > 0 && random.NextDouble() < locality
                        ? previous[l][random.Next(previous[l].Count)]
                        : Sample(random, popularity[l]);
                    if (!chosen.Contains(e)) chosen.Add(e);
                }
                step[l] = chosen;
                previous[l] = chosen;
            }
            all.Add(step);
        }
        return ReplayTrace.FromSteps(layers, experts, all, expertBytes, topK);
    }

    static double[][] Rankings(Random random, int layers, int experts, double zipf)
    {
        var result = new double[layers][];
        for (int l = 0; l < layers; l++)
        {
            int[] order = Enumerable.Range(0, experts).OrderBy(_ => random.Next()).ToArray();
            result[l] = new double[experts];
            for (int rank = 0; rank < experts; rank++) result[l][order[rank]] = 1 / Math.Pow(rank + 1, zipf);
        }
        return result;
    }

    static int Sample(Random random, double[] weights)
    {
        double x = random.NextDouble() * weights.Sum();
        for (int e = 0; e < weights.Length; e++)
            if ((x -= weights[e]) < 0) return e;
        return weights.Length - 1;
    }

    /// <summary>Small random traces for exhaustive checks: one to three experts per step and layer.</summary>
    public static ReplayTrace Random(int seed, int steps, int layers, int experts, int maxSet = 3)
    {
        var random = new Random(seed);
        var all = new List<IReadOnlyList<int>[]>();
        for (int s = 0; s < steps; s++)
        {
            var step = new IReadOnlyList<int>[layers];
            for (int l = 0; l < layers; l++)
                step[l] = Enumerable.Range(0, experts).OrderBy(_ => random.Next()).Take(1 + random.Next(Math.Min(maxSet, experts))).ToArray();
            all.Add(step);
        }
        return ReplayTrace.FromSteps(layers, experts, all);
    }
}
