using System.Collections.Concurrent;

namespace MoeRuntime.LoadGenerator;

/// <summary>What the clients of one level observed: first-token and inter-token latencies, tokens, outcomes.</summary>
sealed class LoadRecorder
{
    readonly ConcurrentBag<double> _timeToFirstTokenMs = [];
    readonly ConcurrentBag<double[]> _interTokenMs = [];
    readonly ConcurrentDictionary<string, int> _errors = new();
    long _tokens, _completed;

    public long Tokens => Interlocked.Read(ref _tokens);
    public long Completed => Interlocked.Read(ref _completed);
    public IReadOnlyDictionary<string, int> Errors => _errors;

    /// <summary>One request's latencies; tokens count even when the request failed part-way.</summary>
    public void Record(double? timeToFirstTokenMs, double[] interTokenMs, int tokens, string? error)
    {
        if (timeToFirstTokenMs is { } ttft) _timeToFirstTokenMs.Add(ttft);
        _interTokenMs.Add(interTokenMs);
        Interlocked.Add(ref _tokens, tokens);
        if (error is null) Interlocked.Increment(ref _completed);
        else _errors.AddOrUpdate(error, 1, (_, n) => n + 1);
    }

    /// <summary>True the first time this recorder is asked about <paramref name="error"/>.</summary>
    public bool FirstOf(string error) => _seen.TryAdd(error, 0);
    readonly ConcurrentDictionary<string, byte> _seen = new();

    public Quantiles TimeToFirstToken() => Quantiles.Of(_timeToFirstTokenMs);
    public Quantiles InterToken() => Quantiles.Of(_interTokenMs.SelectMany(i => i));
}
