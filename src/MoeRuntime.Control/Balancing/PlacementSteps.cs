namespace MoeRuntime.Control.Balancing;

/// <summary>
/// Walks from the current map towards a packed one, one expert at a time, always taking the expert whose
/// new replicas help most, and only while each step lowers the load of the busiest ranks. This keeps a plan
/// within its cap on changes and the slot budget at every step, and means it can never make balance worse.
/// </summary>
static class PlacementSteps
{
    public static Dictionary<ExpertId, int[]> Approach(IReadOnlyDictionary<ExpertId, int[]> current, IReadOnlyDictionary<ExpertId, int[]> target,
        IReadOnlyDictionary<ExpertId, double> load, int[] ranks, int slotsPerRank, int maxChanges)
    {
        var state = current.ToDictionary(p => p.Key, p => p.Value);
        var loads = RankLoads.Of(load, state, ranks);
        var used = ranks.ToDictionary(r => r, r => state.Values.Count(h => h.Contains(r)));
        var startUsed = new Dictionary<int, int>(used);
        var pending = target.Where(t => !t.Value.SequenceEqual(current[t.Key])).Select(t => t.Key).Order().ToList();
        int changes = 0;
        while (pending.Count > 0)
        {
            (ExpertId Expert, Dictionary<int, double> Loads, Score Score)? best = null;
            Score now = Score.Of(loads);
            foreach (ExpertId expert in pending)
            {
                int[] from = state[expert], to = target[expert];
                if (changes + Cost(from, to) > maxChanges) continue;
                if (to.Except(from).Any(r => used[r] + 1 > Math.Max(slotsPerRank, startUsed[r]))) continue;
                var next = new Dictionary<int, double>(loads);
                double share = load.GetValueOrDefault(expert);
                foreach (int r in from) next[r] -= share / from.Length;
                foreach (int r in to) next[r] += share / to.Length;
                Score score = Score.Of(next);
                if (score.IsBetterThan(now) && (best is null || score.IsBetterThan(best.Value.Score)))
                    best = (expert, next, score);
            }
            if (best is not { } step) break;
            int[] before = state[step.Expert], after = target[step.Expert];
            foreach (int r in before.Except(after)) used[r]--;
            foreach (int r in after.Except(before)) used[r]++;
            changes += Cost(before, after);
            state[step.Expert] = after;
            loads = step.Loads;
            pending.Remove(step.Expert);
        }
        return state;
    }

    /// <summary>Changes to turn one replica set into another: a removal paired with an addition is one move.</summary>
    public static int Cost(int[] from, int[] to) => Math.Max(from.Except(to).Count(), to.Except(from).Count());

    /// <summary>Busiest rank first, then the spread of the rest (sum of squares), so ties at the top still make progress.</summary>
    readonly record struct Score(double Max, double SumOfSquares)
    {
        const double Tolerance = 1e-9;

        public static Score Of(Dictionary<int, double> loads) => new(loads.Values.Max(), loads.Values.Sum(l => l * l));

        public bool IsBetterThan(Score other) =>
            Max < other.Max - Tolerance * Math.Max(1, other.Max)
            || (Math.Abs(Max - other.Max) <= Tolerance * Math.Max(1, other.Max) && SumOfSquares < other.SumOfSquares - Tolerance * Math.Max(1, other.SumOfSquares));
    }
}
