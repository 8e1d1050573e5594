using MoeRuntime.Telemetry.Collection;

namespace MoeRuntime.Telemetry.Aggregation;

/// <summary>
/// Finds ranks that disagree on routing: when two ranks report a digest for the same token (request,
/// layer, position) — the router that gated it and an expert's rank that re-checked the gate — the
/// digests must match. Disagreements are counted per layer and rank pair and the latest are kept for
/// inspection. Each token is compared once per rank that reports it, so a report delivered twice is
/// not counted twice. At most <c>capacity</c> tokens wait for a counterpart; the oldest are forgotten first.
/// </summary>
public sealed class MismatchDetector(int capacity = 1 << 16, int recentCapacity = 100)
{
    readonly Dictionary<(ulong Request, int Layer, int Position), Report> _pending = [];
    readonly Queue<(ulong, int, int)> _order = new();
    readonly Dictionary<(int Layer, string RankA, string RankB), long> _counts = [];
    readonly Dictionary<(int Layer, string RankA, string RankB), RoutingMismatch> _latest = [];
    readonly LinkedList<RoutingMismatch> _recent = new();

    public long Compared { get; private set; }
    public long Mismatches { get; private set; }

    public void Observe(string rank, IEnumerable<RoutingDigestRecord> digests, DateTimeOffset at)
    {
        foreach (RoutingDigestRecord d in digests)
        {
            var key = (d.RequestHash, d.Layer, d.TokenPosition);
            if (!_pending.TryGetValue(key, out Report? first))
            {
                _pending[key] = new Report(rank, d.Digest);
                _order.Enqueue(key);
                while (_order.Count > capacity) _pending.Remove(_order.Dequeue());
                continue;
            }
            if (first.Reporters.Contains(rank)) continue;
            first.Reporters.Add(rank);
            Compared++;
            if (first.Digest == d.Digest) continue;
            Mismatches++;
            var (a, b) = string.CompareOrdinal(first.Rank, rank) < 0 ? (first.Rank, rank) : (rank, first.Rank);
            _counts[(d.Layer, a, b)] = _counts.GetValueOrDefault((d.Layer, a, b)) + 1;
            var mismatch = new RoutingMismatch(at, d.Layer, d.TokenPosition, d.RequestHash, first.Rank, first.Digest, rank, d.Digest);
            _latest[(d.Layer, a, b)] = mismatch;
            _recent.AddFirst(mismatch);
            if (_recent.Count > recentCapacity) _recent.RemoveLast();
        }
    }

    /// <summary>Mismatch counts by layer and (ordered) rank pair.</summary>
    public IReadOnlyDictionary<(int Layer, string RankA, string RankB), long> Counts => _counts;

    /// <summary>
    /// The newest mismatch of every key in <see cref="Counts"/>: unlike <see cref="Recent"/>, which keeps only the latest
    /// few of all keys, there is one for each key however many keys disagree.
    /// </summary>
    public IReadOnlyDictionary<(int Layer, string RankA, string RankB), RoutingMismatch> Latest => _latest;

    /// <summary>The latest mismatches, newest first.</summary>
    public IEnumerable<RoutingMismatch> Recent => _recent;

    /// <summary>The first report of a token, and every rank that has reported it since.</summary>
    sealed class Report(string rank, ulong digest)
    {
        public string Rank { get; } = rank;
        public ulong Digest { get; } = digest;
        // A list, not a set: a token has two or three reporters, and up to `capacity` of these wait at once.
        public List<string> Reporters { get; } = new(2) { rank };
    }
}

/// <summary>One token two ranks routed differently.</summary>
public sealed record RoutingMismatch(DateTimeOffset At, int Layer, int TokenPosition, ulong RequestHash, string RankA, ulong DigestA, string RankB, ulong DigestB);
