namespace MoeRuntime.Model.Layers;

/// <summary>
/// Where a step's batch is cut into micro-batches: contiguous groups of whole sequences, in batch order, of about equal
/// token count, so that each group's rows are a contiguous range of the step's rows.
/// </summary>
public static class MicroBatchSplit
{
    /// <summary>
    /// The first sequence of each group, followed by <paramref name="tokensPerSequence"/>'s length: group g is the sequences
    /// [starts[g], starts[g + 1]). At most <paramref name="groups"/> groups, never more than there are sequences, none empty.
    /// Cut g falls on the sequence boundary whose tokens before it come closest to g / groups of the step's tokens (the earlier
    /// boundary on a tie), leaving every later group at least one sequence.
    /// </summary>
    public static int[] Starts(ReadOnlySpan<int> tokensPerSequence, int groups)
    {
        if (tokensPerSequence.IsEmpty) throw new ArgumentException("a batch to split needs at least one sequence", nameof(tokensPerSequence));
        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        int n = tokensPerSequence.Length;
        var before = new long[n + 1];
        for (int s = 0; s < n; s++)
        {
            if (tokensPerSequence[s] < 1) throw new ArgumentException($"every sequence needs at least one token, one has {tokensPerSequence[s]}", nameof(tokensPerSequence));
            before[s + 1] = before[s] + tokensPerSequence[s];
        }
        long total = before[n];
        int count = Math.Min(groups, n);
        var starts = new int[count + 1];
        starts[count] = n;
        for (int g = 1; g < count; g++)
        {
            // Compared scaled by count, so the share stays an integer.
            long target = total * g;
            int best = starts[g - 1] + 1;
            for (int b = best + 1; b <= n - (count - g); b++)
                if (Math.Abs(before[b] * count - target) < Math.Abs(before[best] * count - target)) best = b;
            starts[g] = best;
        }
        return starts;
    }

    /// <summary>The step's rows where each group begins (and, last, the step's row count), from the groups' sequence starts.</summary>
    public static int[] RowStarts(ReadOnlySpan<int> tokensPerSequence, ReadOnlySpan<int> starts)
    {
        var rows = new int[starts.Length];
        int row = 0, group = 0;
        for (int s = 0; s <= tokensPerSequence.Length; s++)
        {
            while (group < starts.Length && starts[group] == s) rows[group++] = row;
            if (s < tokensPerSequence.Length) row += tokensPerSequence[s];
        }
        return rows;
    }
}
