namespace MoeRuntime.Telemetry.Security;

/// <summary>
/// The one spelling of a rank in telemetry: its number in decimal, as <c>Moe:Rank</c> gives it (<c>0</c>, <c>17</c>; no
/// sign, no leading zero, at most <see cref="int.MaxValue"/>). Summaries and routing digests naming anything else are
/// refused where they enter the aggregators, so no text of a caller's choosing reaches the views or the dashboard.
/// </summary>
public static class RankIds
{
    public static bool IsValid(ReadOnlySpan<char> rank)
    {
        if (rank.IsEmpty || rank.Length > 10) return false;
        foreach (char c in rank)
            if (!char.IsAsciiDigit(c)) return false;
        if (rank.Length > 1 && rank[0] == '0') return false;
        return long.Parse(rank) <= int.MaxValue;
    }

    /// <summary>Null when <paramref name="rank"/> is a rank, otherwise why not (without echoing it: it may be markup).</summary>
    public static string? Problem(ReadOnlySpan<char> rank) =>
        IsValid(rank) ? null : $"a rank is a non-negative decimal number without leading zeros; this one has {rank.Length} characters and is not";
}
