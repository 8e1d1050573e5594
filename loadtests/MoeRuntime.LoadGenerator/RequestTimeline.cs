using System.Collections.Concurrent;
using System.Diagnostics;

namespace MoeRuntime.LoadGenerator;

/// <summary>
/// One request from its sender's side, in milliseconds: sent (or admitted) to first token, first to last token, last
/// token to the stream's end as its client saw it, and the gap from the previous request on the same client (or batch
/// slot) ending to this one being sent (null for a client's first request).
/// </summary>
readonly record struct RequestTimes(double FirstTokenMs, double DecodeMs, double TailMs, double? GapMs, int Tokens);

/// <summary>
/// Mean milliseconds per request of each part of a request's life, over one level, with the inter-token and first-token
/// quantiles: what the level's wall clock is made of. At one stream, requests × (gap + first token + decode + tail) is the
/// level's duration, so the parts say where tokens/s is lost.
/// </summary>
sealed record TimelineSummary(
    int Requests, double FirstTokenMs, double DecodeMs, double TailMs, double GapMs, double InterTokenMeanMs, Quantiles InterTokenMs, Quantiles TimeToFirstTokenMs)
{
    /// <summary>Mean milliseconds per request from one request's send to the next one's on the same client.</summary>
    public double CycleMs => GapMs + FirstTokenMs + DecodeMs + TailMs;

    public static TimelineSummary Of(IReadOnlyCollection<RequestTimes> requests, IEnumerable<double> interTokenMs)
    {
        double[] itl = interTokenMs.ToArray();
        double Mean(Func<RequestTimes, double> part) => requests.Count == 0 ? double.NaN : requests.Average(part);
        var gaps = requests.Where(r => r.GapMs is not null).Select(r => r.GapMs!.Value).ToArray();
        return new TimelineSummary(requests.Count, Mean(r => r.FirstTokenMs), Mean(r => r.DecodeMs), Mean(r => r.TailMs),
            gaps.Length == 0 ? 0 : gaps.Average(), itl.Length == 0 ? double.NaN : itl.Average(), Quantiles.Of(itl),
            Quantiles.Of(requests.Select(r => r.FirstTokenMs)));
    }
}

/// <summary>
/// The reference's side of <see cref="RequestTimes"/>, from the continuous batching loop's own timestamps: a request is
/// "sent" when it is admitted into the batch, a token arrives when the step that sampled it ends, and a request admitted
/// into a slot another one freed has for its gap the time since that one ended (the reference's tail is zero: its result
/// is there when the step ends).
/// </summary>
sealed class ReferenceTimeline(int requests)
{
    readonly long[] _admitted = new long[requests], _first = new long[requests], _last = new long[requests];
    readonly double?[] _gap = new double?[requests];
    readonly int[] _tokens = new int[requests];
    readonly List<double>[] _interToken = Enumerable.Range(0, requests).Select(_ => new List<double>()).ToArray();
    readonly Queue<long> _freed = new();

    public void Admitted(int index, long timestamp)
    {
        _admitted[index] = timestamp;
        if (_freed.TryDequeue(out long freed)) _gap[index] = Stopwatch.GetElapsedTime(freed, timestamp).TotalMilliseconds;
    }

    public void Token(int index, long timestamp)
    {
        if (_tokens[index]++ == 0) _first[index] = timestamp;
        else _interToken[index].Add(Stopwatch.GetElapsedTime(_last[index], timestamp).TotalMilliseconds);
        _last[index] = timestamp;
    }

    public void Ended(int index, long timestamp) => _freed.Enqueue(timestamp);

    public TimelineSummary Summary()
    {
        var times = new List<RequestTimes>(_admitted.Length);
        for (int i = 0; i < _admitted.Length; i++)
        {
            if (_tokens[i] == 0) continue;
            times.Add(new RequestTimes(Stopwatch.GetElapsedTime(_admitted[i], _first[i]).TotalMilliseconds,
                Stopwatch.GetElapsedTime(_first[i], _last[i]).TotalMilliseconds, 0, _gap[i], _tokens[i]));
        }
        return TimelineSummary.Of(times, _interToken.SelectMany(t => t));
    }
}

/// <summary>The served clients' <see cref="RequestTimes"/> of one level.</summary>
sealed class ServedTimeline
{
    readonly ConcurrentQueue<RequestTimes> _requests = new();

    public void Add(RequestTimes times) => _requests.Enqueue(times);

    public TimelineSummary Summary(IEnumerable<double> interTokenMs) => TimelineSummary.Of(_requests.ToArray(), interTokenMs);
}
