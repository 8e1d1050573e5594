namespace MoeRuntime.Control.Balancing;

/// <summary>
/// Walks from the current map towards a packed one, one expert at a time, always taking the expert whose new replicas
/// help most, and only while each step lowers what the busiest ranks carry, layer by layer. When no single expert's
/// step helps, two experts of one layer may step together (two hot experts on two ranks each need the other's
/// replicas before either helps). This keeps a plan within its cap on changes and the slot budget at every step, and
/// means it can never make balance worse.
/// </summary>
static class PlacementSteps
{
    public static Dictionary<ExpertId, int[]> Approach(IReadOnlyDictionary<ExpertId, int[]> current, IReadOnlyDictionary<ExpertId, int[]> target,
        IReadOnlyDictionary<ExpertId, double> load, int[] ranks, int slotsPerRank, int maxChanges)
    {
        var state = current.ToDictionary(p => p.Key, p => p.Value);
        LayerLoads loads = RankLoads.ByLayer(load, state, ranks);
        var used = ranks.ToDictionary(r => r, r => state.Values.Count(h => h.Contains(r)));
        var limit = ranks.ToDictionary(r => r, r => Math.Max(slotsPerRank, used[r]));
        var pending = target.Where(t => !t.Value.SequenceEqual(current[t.Key])).Select(t => t.Key).Order().ToList();
        int changes = 0;
        while (pending.Count > 0)
        {
            var moves = pending.Select(e => new ExpertMove(e, load.GetValueOrDefault(e), state[e], target[e]))
                .Where(m => changes + Cost(m.From, m.To) <= maxChanges && Fits(used, limit, m))
                .ToList();
            ExpertMove[]? step = Best(moves.Select(m => new[] { m }), loads)
                ?? Best(moves.SelectMany((a, i) => moves.Skip(i + 1)
                    .Where(b => b.Expert.Layer == a.Expert.Layer && changes + Cost(a.From, a.To) + Cost(b.From, b.To) <= maxChanges && Fits(used, limit, a, b))
                    .Select(b => new[] { a, b })), loads);
            if (step is null) break;
            foreach (ExpertMove move in step)
            {
                foreach (int r in move.From.Except(move.To)) used[r]--;
                foreach (int r in move.To.Except(move.From)) used[r]++;
                changes += Cost(move.From, move.To);
                state[move.Expert] = move.To;
                loads.Shift(move);
                pending.Remove(move.Expert);
            }
        }
        return state;
    }

    /// <summary>The step that lowers the score most, or null when none lowers it.</summary>
    static ExpertMove[]? Best(IEnumerable<ExpertMove[]> steps, LayerLoads loads)
    {
        var now = new Score(loads.BusiestSum, loads.SumOfSquares);
        (ExpertMove[] Moves, Score Score)? best = null;
        foreach (ExpertMove[] step in steps)
        {
            var (busiest, squares) = loads.Change(step);
            var score = new Score(now.Max + busiest, now.SumOfSquares + squares);
            if (score.IsBetterThan(now) && (best is null || score.IsBetterThan(best.Value.Score))) best = (step, score);
        }
        return best?.Moves;
    }

    /// <summary>Whether the replicas the moves add fit each rank's slots (or what it held at the start, if more).</summary>
    static bool Fits(Dictionary<int, int> used, Dictionary<int, int> limit, params ReadOnlySpan<ExpertMove> moves)
    {
        foreach (var (rank, count) in used)
        {
            int added = 0;
            foreach (ExpertMove m in moves)
                if (m.To.Contains(rank) && !m.From.Contains(rank)) added++;
            if (added > 0 && count + added > limit[rank]) return false;
        }
        return true;
    }

    /// <summary>Changes to turn one replica set into another: a removal paired with an addition is one move.</summary>
    public static int Cost(int[] from, int[] to) => Math.Max(from.Except(to).Count(), to.Except(from).Count());

    /// <summary>
    /// The busiest rank's load summed over layers first, then the spread of the rest (sum of squares), so ties at the top
    /// still make progress.
    /// </summary>
    readonly record struct Score(double Max, double SumOfSquares)
    {
        const double Tolerance = 1e-9;

        public bool IsBetterThan(Score other) =>
            Max < other.Max - Tolerance * Math.Max(1, other.Max)
            || (Math.Abs(Max - other.Max) <= Tolerance * Math.Max(1, other.Max) && SumOfSquares < other.SumOfSquares - Tolerance * Math.Max(1, other.SumOfSquares));
    }
}
