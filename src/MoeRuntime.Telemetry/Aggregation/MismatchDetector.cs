using MoeRuntime.Telemetry.Collection;

namespace MoeRuntime.Telemetry.Aggregation;

/// <summary>
/// Finds ranks that disagree on routing: when two ranks report a digest for the same token (request,
/// layer, position) — the router that gated it and an expert's rank that re-checked the gate — the
/// digests must match. Disagreements are counted per layer and rank pair and the latest are kept for
/// inspection. Reports wait a bounded time (and count) for their counterpart, then age out.
/// </summary>
public sealed class MismatchDetector(int capacity = 1 << 16, int recentCapacity = 100)
{
    readonly Dictionary<(ulong Request, int Layer, int Position), Report> _pending = [];
    readonly Queue<(ulong, int, int)> _order = new();
    readonly Dictionary<(int Layer, string RankA, string RankB), long> _counts = [];
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
            if (first.Rank == rank) continue;
            Compared++;
            if (first.Digest == d.Digest) continue;
            Mismatches++;
            var (a, b) = string.CompareOrdinal(first.Rank, rank) < 0 ? (first.Rank, rank) : (rank, first.Rank);
            _counts[(d.Layer, a, b)] = _counts.GetValueOrDefault((d.Layer, a, b)) + 1;
            _recent.AddFirst(new RoutingMismatch(at, d.Layer, d.TokenPosition, d.RequestHash, first.Rank, first.Digest, rank, d.Digest));
            if (_recent.Count > recentCapacity) _recent.RemoveLast();
        }
    }

    /// <summary>Mismatch counts by layer and (ordered) rank pair.</summary>
    public IReadOnlyDictionary<(int Layer, string RankA, string RankB), long> Counts => _counts;

    /// <summary>The latest mismatches, newest first.</summary>
    public IEnumerable<RoutingMismatch> Recent => _recent;

    sealed record Report(string Rank, ulong Digest);
}

/// <summary>One token two ranks routed differently.</summary>
public sealed record RoutingMismatch(DateTimeOffset At, int Layer, int TokenPosition, ulong RequestHash, string RankA, ulong DigestA, string RankB, ulong DigestB);
