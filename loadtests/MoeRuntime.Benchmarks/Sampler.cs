using System.Diagnostics;

namespace MoeRuntime.Benchmarks;

/// <summary>
/// Times a group of cases round-robin, one sample of each in turn, so that a burst of noise on the
/// shared machine hits every case of the group alike and their ratios stay meaningful.
/// </summary>
static class Sampler
{
    public static IReadOnlyList<Timing> Measure(IReadOnlyList<BenchCase> cases, SamplingPlan plan)
    {
        var opsPerSample = new int[cases.Count];
        for (int c = 0; c < cases.Count; c++)
        {
            double last = 0;
            for (int w = 0; w < plan.WarmupOps; w++) last = TimeOps(cases[c].Op, 1);
            opsPerSample[c] = cases[c].Repeatable ? Math.Max(1, (int)Math.Ceiling(plan.SampleMilliseconds / last)) : 1;
        }

        var samples = new double[cases.Count][];
        for (int c = 0; c < cases.Count; c++) samples[c] = new double[plan.Samples];
        // Tensors are disposed deterministically, so little garbage is left; collect it now rather than mid-sample.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        for (int s = 0; s < plan.Samples; s++)
            for (int c = 0; c < cases.Count; c++)
                samples[c][s] = TimeOps(cases[c].Op, opsPerSample[c]) / opsPerSample[c];

        return cases.Select((bc, c) => new Timing(bc.Name, samples[c])).ToArray();
    }

    static double TimeOps(Action op, int count)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++) op();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }
}
