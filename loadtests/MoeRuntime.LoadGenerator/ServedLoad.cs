using System.Diagnostics;
using MoeRuntime.Grains;

namespace MoeRuntime.LoadGenerator;

/// <summary>Drives one concurrency level of streaming clients against the cluster's router grain or a silo's front door.</summary>
sealed class ServedLoad(IServedTarget target, IReadOnlyList<string> prompts, LoadOptions options)
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
        var clock = Stopwatch.StartNew();
        Func<int?> nextRequest = RequestSource(concurrency, clock);
        await Task.WhenAll(Enumerable.Range(0, concurrency)
            .Select(_ => new LoadClient(target, prompts, options, () => recorder).RunAsync(nextRequest, cancellationToken)));
        double seconds = clock.Elapsed.TotalSeconds;
        RouterStatus after = await target.StatusAsync(cancellationToken);
        return new ServedLevel(concurrency, seconds, recorder.Completed, recorder.Tokens, recorder.TimeToFirstToken(), recorder.InterToken(),
            recorder.Errors.ToDictionary(), WireTraffic.Between(before, after));
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
