using MoeRuntime.Model.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Serving.Dispatch;

/// <summary>
/// Rows of one expert call whose routing the expert's rank re-checks: the row index within the call's payload, and the
/// token's request key and position. Index i of the three arrays describes one row.
/// </summary>
public sealed record CheckedRows(int[] Rows, ulong[] Requests, long[] Positions)
{
    /// <summary>
    /// The rows of a step that get a routing digest: those whose position is a multiple of <paramref name="every"/>,
    /// as a mask over the step's rows, or null when none is.
    /// </summary>
    public static bool[]? Sample(DispatchRows rows, int every)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(every);
        bool[]? sampled = null;
        ReadOnlySpan<long> positions = rows.Positions;
        for (int row = 0; row < positions.Length; row++)
            if (positions[row] % every == 0) (sampled ??= new bool[positions.Length])[row] = true;
        return sampled;
    }

    /// <summary>
    /// Per expert of <paramref name="experts"/>, its payload rows (its tokens in plan order) that <paramref name="sampled"/>
    /// marks, or null for an expert with none.
    /// </summary>
    public static CheckedRows?[] ForExperts(RoutingPlan plan, IReadOnlyList<int> experts, bool[] sampled, DispatchRows rows)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (sampled.Length != plan.TokenCount || rows.Count != plan.TokenCount)
            throw new ArgumentException($"a plan of {plan.TokenCount} tokens needs that many sampled flags and rows, got {sampled.Length} and {rows.Count}");
        var checks = new CheckedRows?[experts.Count];
        for (int i = 0; i < experts.Count; i++)
        {
            long[] tokens;
            using (Tensor indices = plan.TokenIndices(experts[i])) tokens = indices.data<long>().ToArray();
            checks[i] = Of(tokens, sampled, rows);
        }
        return checks;
    }

    /// <summary>The payload rows of an expert whose tokens are <paramref name="tokens"/> (rows of the step) that are sampled; null for none.</summary>
    public static CheckedRows? Of(ReadOnlySpan<long> tokens, bool[] sampled, DispatchRows rows)
    {
        int count = 0;
        foreach (long token in tokens)
            if (sampled[token]) count++;
        if (count == 0) return null;
        var picked = new int[count];
        var requests = new ulong[count];
        var positions = new long[count];
        for (int j = 0, at = 0; j < tokens.Length; j++)
        {
            if (!sampled[tokens[j]]) continue;
            picked[at] = j;
            requests[at] = rows.Requests[(int)tokens[j]];
            positions[at] = rows.Positions[(int)tokens[j]];
            at++;
        }
        return new CheckedRows(picked, requests, positions);
    }

    /// <summary>The rows that fall in the chunk of <paramref name="count"/> rows from <paramref name="first"/>, renumbered from it; null for none.</summary>
    public CheckedRows? Slice(int first, int count)
    {
        int[] picked = Enumerable.Range(0, Rows.Length).Where(i => Rows[i] >= first && Rows[i] < first + count).ToArray();
        return picked.Length == 0
            ? null
            : new CheckedRows(picked.Select(i => Rows[i] - first).ToArray(), picked.Select(i => Requests[i]).ToArray(), picked.Select(i => Positions[i]).ToArray());
    }
}
