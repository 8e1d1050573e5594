using System.Diagnostics;
using MoeRuntime.Grains;

namespace MoeRuntime.LoadGenerator;

/// <summary>
/// The controllers' live scenario: streaming clients run each phase's prompts in turn while a sampler
/// records, every interval, what the clients saw (tokens/s, inter-token and first-token latency, errors)
/// and what the cluster did (hot hit ratio, hot bytes against the budget, controller decisions).
/// </summary>
sealed class TimelineRun(IClusterClient cluster, LoadOptions options)
{
    LoadRecorder _current = new();

    public async Task<IReadOnlyList<TimelineSample>> RunAsync(CancellationToken cancellationToken)
    {
        var probe = new ClusterProbe(cluster, options.ModelName);
        var samples = new List<TimelineSample>();
        var clock = Stopwatch.StartNew();
        ClusterReading previous = await probe.ReadAsync();
        TimeSpan previousAt = TimeSpan.Zero;
        int concurrency = options.Concurrency[0];
        for (int p = 0; p < options.Phases.Count && !cancellationToken.IsCancellationRequested; p++)
        {
            LoadPhase phase = options.Phases[p];
            IReadOnlyList<string> prompts = PromptSet.Load(phase.PromptsPath);
            // On stderr with the wall clock, so that a scenario can line the phases up with other clocks (Prometheus's).
            Console.Error.WriteLine(FormattableString.Invariant(
                $"phase {p + 1} prompts={phase.PromptsPath ?? "builtin"} started_unix={DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0:F3}"));
            var phaseClock = Stopwatch.StartNew();
            int issued = -1;
            int? Next() => phaseClock.Elapsed < phase.Duration ? Interlocked.Increment(ref issued) : null;
            Task clients = Task.WhenAll(Enumerable.Range(0, concurrency)
                .Select(_ => new LoadClient(new RouterTarget(cluster, options.ModelName), prompts, options, () => Volatile.Read(ref _current)).RunAsync(Next, cancellationToken)));
            using var timer = new PeriodicTimer(options.SampleEvery);
            bool more = true;
            while (more)
            {
                Task tick = timer.WaitForNextTickAsync(cancellationToken).AsTask();
                more = await Task.WhenAny(tick, clients) != clients;
                ClusterReading reading = await probe.ReadAsync();
                LoadRecorder interval = Interlocked.Exchange(ref _current, new LoadRecorder());
                TimeSpan at = clock.Elapsed;
                samples.Add(TimelineSample.Of(p + 1, at, at - previousAt, interval, previous, reading));
                previous = reading;
                previousAt = at;
            }
            await clients;
        }
        return samples;
    }
}

/// <summary>One interval of the timeline (latencies in milliseconds, the hot hit ratio over the interval's expert calls).</summary>
sealed record TimelineSample(
    int Phase, double Seconds, double TokensPerSecond, long Requests, IReadOnlyDictionary<string, int> Errors, double InterTokenP50Ms, double InterTokenP95Ms,
    double TimeToFirstTokenP95Ms, double HotHitRatio, double HotAssignedMegabytes, double HotHeldMegabytes, double HotLimitMegabytes, double HotBudgetMegabytes, bool OverBudget,
    IReadOnlyDictionary<string, int> Decisions)
{
    public static TimelineSample Of(int phase, TimeSpan at, TimeSpan length, LoadRecorder interval, ClusterReading before, ClusterReading after)
    {
        Quantiles interToken = interval.InterToken(), firstToken = interval.TimeToFirstToken();
        long hits = after.Hits - before.Hits, calls = hits + after.Misses - before.Misses;
        return new TimelineSample(phase, at.TotalSeconds, interval.Tokens / length.TotalSeconds, interval.Completed,
            interval.Errors.ToDictionary(), interToken.P50, interToken.P95, firstToken.P95,
            calls > 0 ? hits / (double)calls : double.NaN, after.HotAssignedBytes / 1048576.0, after.HotHeldBytes / 1048576.0, after.HotLimitBytes / 1048576.0, after.HotBudgetBytes / 1048576.0,
            after.OverBudget, after.Decisions);
    }
}
