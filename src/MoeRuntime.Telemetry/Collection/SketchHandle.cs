using MoeRuntime.Telemetry.Sketches;

namespace MoeRuntime.Telemetry.Collection;

/// <summary>
/// A distribution series registered once on a <see cref="RankCollector"/>. Records go into a
/// <see cref="ConcurrentSketchRecorder"/>: lock-free and allocation-free.
/// </summary>
public readonly struct SketchHandle
{
    private readonly ConcurrentSketchRecorder _recorder;
    private readonly int _sampleEvery;

    internal SketchHandle(ConcurrentSketchRecorder recorder, int sampleEvery)
    {
        _recorder = recorder;
        _sampleEvery = sampleEvery;
    }

    /// <summary>Records one value (seconds for durations).</summary>
    public void Record(double value) => _recorder.Record(value);

    /// <summary>
    /// Records a per-token value only for every N-th token of a stream when the catalogue samples
    /// the metric (N = <see cref="RankCollectorOptions.SampleEveryNTokens"/>); otherwise always.
    /// Keyed on the token's position so that no shared tick counter is touched per token.
    /// </summary>
    public void RecordToken(long tokenPosition, double value)
    {
        if (Samples(tokenPosition)) _recorder.Record(value);
    }

    /// <summary>Whether <see cref="RecordToken"/> records the token at this position.</summary>
    public bool Samples(long tokenPosition) => tokenPosition % _sampleEvery == 0;
}
