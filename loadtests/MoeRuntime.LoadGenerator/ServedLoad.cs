using System.Diagnostics;
using MoeRuntime.Grains;

namespace MoeRuntime.LoadGenerator;

/// <summary>Drives one concurrency level of streaming clients against the cluster's router grain or a silo's front door.</summary>
sealed class ServedLoad(IServedTarget target, IReadOnlyList<string> prompts, LoadOptions options, RankMetrics? rank = null)
{
    /// <summary>Unmeasured requests, one at a time, so expert activations and fetches happen before the first level.</summary>
    public async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        int issued = 0;
        var unmeasured = new LoadRecorder();
        await new LoadClient(target, prompts, options, () => unmeasured)
            .RunAsync(() => issued < options.Warmup ? issued++ : null, cancellationToken);
    }

    public async Task<ServedLevel> RunAsync(int concurrency, CancellationToken cancellationToken)
    {
        var recorder = new LoadRecorder();
        RouterStatus before = await target.StatusAsync(cancellationToken);
        IReadOnlyDictionary<string, double>? rankBefore = rank is null ? null : await rank.ReadSettledAsync(cancellationToken);
        // Which rank's router serves this client's streams, and when the level began, for scenarios that act on both.
        Console.Error.WriteLine(FormattableString.Invariant(
            $"level concurrency={concurrency} router_rank={before.Rank} started_unix={DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0:F3}"));
        var clock = Stopwatch.StartNew();
        Func<int?> nextRequest = RequestSource(concurrency, clock);
        Task clients = Task.WhenAll(Enumerable.Range(0, concurrency)
            .Select(_ => new LoadClient(target, prompts, options, () => recorder).RunAsync(nextRequest, cancellationToken)));
        List<ThroughputSample>? throughput = options.ThroughputEvery is { } every ? await SampleAsync(clients, recorder, clock, every, cancellationToken) : null;
        await clients;
        double seconds = clock.Elapsed.TotalSeconds;
        RouterStatus after = await target.StatusAsync(cancellationToken);
        RankLevel? rankLevel = rank is null ? null : RankLevel.Between(rankBefore!, await rank.ReadSettledAsync(cancellationToken));
        return new ServedLevel(concurrency, seconds, recorder.Completed, recorder.Tokens, recorder.TimeToFirstToken(), recorder.InterToken(),
            recorder.Errors.ToDictionary(), WireTraffic.Between(before, after), recorder.Resumed, throughput, recorder.Timeline(), rankLevel);
    }

    /// <summary>The recorder's running totals every <paramref name="every"/> until the clients are done (one line each on stderr).</summary>
    static async Task<List<ThroughputSample>> SampleAsync(Task clients, LoadRecorder recorder, Stopwatch clock, TimeSpan every, CancellationToken cancellationToken)
    {
        var samples = new List<ThroughputSample>();
        using var timer = new PeriodicTimer(every);
        bool more = true;
        while (more)
        {
            more = await Task.WhenAny(timer.WaitForNextTickAsync(cancellationToken).AsTask(), clients) != clients;
            var sample = new ThroughputSample(clock.Elapsed.TotalSeconds, recorder.StreamedTokens, recorder.Completed, recorder.Failed, recorder.Resumed);
            samples.Add(sample);
            Console.Error.WriteLine(FormattableString.Invariant(
                $"t={sample.Seconds:F1}s tokens={sample.Tokens} ok={sample.Completed} failed={sample.Failed} resumed={sample.Resumed}"));
        }
        return samples;
    }

    /// <summary>Request indices shared by the level's clients: a fixed count, or until the duration is up.</summary>
    Func<int?> RequestSource(int concurrency, Stopwatch clock)
    {
        int issued = -1;
        int total = concurrency * options.RequestsPerClient;
        return options.Duration is { } duration
            ? () => clock.Elapsed < duration ? Interlocked.Increment(ref issued) : null
            : () => Interlocked.Increment(ref issued) is var i && i < total ? i : null;
    }
}
