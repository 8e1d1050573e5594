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
        // An expert's move stays the same until it is taken: from today's replicas to the target's.
        var pending = target.Where(t => !t.Value.SequenceEqual(current[t.Key])).OrderBy(t => t.Key)
            .Select(t => new ExpertMove(t.Key, load.GetValueOrDefault(t.Key), current[t.Key], t.Value)).ToList();
        int changes = 0;
        while (pending.Count > 0)
        {
            List<ExpertMove> allowed = pending.Where(m => changes + Cost(m.From, m.To) <= maxChanges && Fits(used, limit, m)).ToList();
            ExpertMove[]? step = BestSingle(allowed, loads)
                ?? BestPair(Pairs(allowed).Where(p => changes + Cost(p[0].From, p[0].To) + Cost(p[1].From, p[1].To) <= maxChanges && Fits(used, limit, p)), loads);
            if (step is null) break;
            foreach (ExpertMove move in step)
            {
                foreach (int r in move.From)
                    if (!move.To.Contains(r)) used[r]--;
                foreach (int r in move.To)
                    if (!move.From.Contains(r)) used[r]++;
                changes += Cost(move.From, move.To);
                state[move.Expert] = move.To;
                loads.Shift(move);
                pending.Remove(move);
            }
        }
        return state;
    }

    /// <summary>
    /// Pairs of moves within a layer, among each layer's <see cref="PairedPerLayer"/> heaviest: a stall comes from hot
    /// experts, and the bound keeps the search small for models with hundreds of experts per layer.
    /// </summary>
    static IEnumerable<ExpertMove[]> Pairs(List<ExpertMove> moves)
    {
        foreach (var layer in moves.GroupBy(m => m.Expert.Layer))
        {
            ExpertMove[] heaviest = [.. layer.OrderByDescending(m => m.Tokens).ThenBy(m => m.Expert).Take(PairedPerLayer)];
            for (int i = 0; i < heaviest.Length; i++)
                for (int j = i + 1; j < heaviest.Length; j++)
                    yield return [heaviest[i], heaviest[j]];
        }
    }

    const int PairedPerLayer = 8;

    /// <summary>The single move that lowers the score most, or null when none lowers it.</summary>
    static ExpertMove[]? BestSingle(List<ExpertMove> moves, LayerLoads loads)
    {
        var now = new Score(loads.BusiestSum, loads.SumOfSquares);
        Score best = now;
        int chosen = -1;
        for (int i = 0; i < moves.Count; i++)
            if (Lowers(now, loads.Change([moves[i]]), ref best)) chosen = i;
        return chosen < 0 ? null : [moves[chosen]];
    }

    /// <summary>The pair that lowers the score most, or null when none lowers it.</summary>
    static ExpertMove[]? BestPair(IEnumerable<ExpertMove[]> pairs, LayerLoads loads)
    {
        var now = new Score(loads.BusiestSum, loads.SumOfSquares);
        Score best = now;
        ExpertMove[]? chosen = null;
        foreach (ExpertMove[] pair in pairs)
            if (Lowers(now, loads.Change(pair), ref best)) chosen = pair;
        return chosen;
    }

    /// <summary>
    /// Whether a step with this change from <paramref name="now"/> beats <paramref name="best"/> so far (which starts at
    /// <paramref name="now"/>, so a step that does not lower the score never wins); the winner becomes the best.
    /// </summary>
    static bool Lowers(Score now, (double Busiest, double Squares) change, ref Score best)
    {
        var score = new Score(now.Max + change.Busiest, now.SumOfSquares + change.Squares);
        if (!score.IsBetterThan(best)) return false;
        best = score;
        return true;
    }

    /// <summary>Whether the replicas the moves add fit each rank's slots (or what it held at the start, if more).</summary>
    static bool Fits(Dictionary<int, int> used, Dictionary<int, int> limit, params ReadOnlySpan<ExpertMove> moves)
    {
        foreach (ExpertMove m in moves)
            foreach (int rank in m.To)
            {
                if (m.From.Contains(rank)) continue;
                int added = 0;
                foreach (ExpertMove other in moves)
                    if (other.To.Contains(rank) && !other.From.Contains(rank)) added++;
                if (used[rank] + added > limit[rank]) return false;
            }
        return true;
    }

    /// <summary>Changes to turn one replica set into another: a removal paired with an addition is one move.</summary>
    public static int Cost(int[] from, int[] to)
    {
        int removed = 0, added = 0;
        foreach (int r in from)
            if (!to.Contains(r)) removed++;
        foreach (int r in to)
            if (!from.Contains(r)) added++;
        return Math.Max(removed, added);
    }

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
