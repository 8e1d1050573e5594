using System.Collections.Concurrent;

namespace MoeRuntime.LoadGenerator;

/// <summary>What the clients of one level observed: first-token and inter-token latencies, tokens, outcomes.</summary>
sealed class LoadRecorder
{
    readonly ConcurrentBag<double> _timeToFirstTokenMs = [];
    readonly ConcurrentBag<double[]> _interTokenMs = [];
    readonly ConcurrentDictionary<string, int> _errors = new();
    long _tokens, _completed, _failed, _streamed, _resumed;

    public long Tokens => Interlocked.Read(ref _tokens);
    public long Completed => Interlocked.Read(ref _completed);
    public long Failed => Interlocked.Read(ref _failed);
    /// <summary>Tokens as they arrive (<see cref="Tokens"/> counts them when their request ends), for throughput over time.</summary>
    public long StreamedTokens => Interlocked.Read(ref _streamed);
    /// <summary>Streams the client resumed on another rank after the rank serving them was lost or stopped.</summary>
    public long Resumed => Interlocked.Read(ref _resumed);

    public void Streamed(int tokens) => Interlocked.Add(ref _streamed, tokens);

    public void RecordResume() => Interlocked.Increment(ref _resumed);
    public IReadOnlyDictionary<string, int> Errors => _errors;

    /// <summary>One request's latencies; tokens count even when the request failed part-way.</summary>
    public void Record(double? timeToFirstTokenMs, double[] interTokenMs, int tokens, string? error, RequestTimes? times = null)
    {
        if (times is { } t) _timeline.Add(t);
        if (timeToFirstTokenMs is { } ttft) _timeToFirstTokenMs.Add(ttft);
        _interTokenMs.Add(interTokenMs);
        Interlocked.Add(ref _tokens, tokens);
        if (error is null) Interlocked.Increment(ref _completed);
        else
        {
            Interlocked.Increment(ref _failed);
            _errors.AddOrUpdate(error, 1, (_, n) => n + 1);
        }
    }

    /// <summary>True the first time this recorder is asked about <paramref name="error"/>.</summary>
    public bool FirstOf(string error) => _seen.TryAdd(error, 0);
    readonly ConcurrentDictionary<string, byte> _seen = new();

    public Quantiles TimeToFirstToken() => Quantiles.Of(_timeToFirstTokenMs);
    public Quantiles InterToken() => Quantiles.Of(_interTokenMs.SelectMany(i => i));

    /// <summary>Where the completed requests' time went, from the clients' timestamps (<see cref="RequestTimes"/>).</summary>
    public TimelineSummary Timeline() => _timeline.Summary(_interTokenMs.SelectMany(i => i));
    readonly ServedTimeline _timeline = new();
}
