using System.Globalization;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Experts;

/// <summary>Grain keys of experts and rank-bound grains, in one place so placement and callers agree.</summary>
public static class ExpertKeys
{
    /// <summary>The expert's default grain: <c>model/layer/expert</c>, placed on its round-robin owner among the live ranks.</summary>
    public static string Of(string model, int layer, int expert) => new ExpertKey(model, layer, expert).ToString();

    /// <summary>
    /// A replica pinned to one rank: <c>model/layer/expert@rank</c>. The rank in the key makes placement a
    /// lookup (no call to the placement map while activating) and gives each replica its own activation.
    /// </summary>
    public static string OfReplica(string model, int layer, int expert, int rank) => $"{Of(model, layer, expert)}@{rank}";

    /// <summary>Reads an expert grain key, default (<c>model/layer/expert</c>) or pinned replica (<c>model/layer/expert@rank</c>).</summary>
    /// <exception cref="FormatException">Not an expert grain key.</exception>
    public static (ExpertKey Expert, int? Rank) Parse(string grainKey)
    {
        ArgumentNullException.ThrowIfNull(grainKey);
        int at = grainKey.LastIndexOf('@');
        if (at < 0 || at < grainKey.LastIndexOf('/')) return (ExpertKey.Parse(grainKey), null);
        if (!int.TryParse(grainKey.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int rank))
            throw new FormatException($"'{grainKey}' is not a replica key: the rank after '@' is not a non-negative integer");
        return (ExpertKey.Parse(grainKey[..at]), rank);
    }

    /// <summary>Key of a grain bound to one rank of one model: <c>model/rank</c>.</summary>
    public static string OfRank(string model, int rank) => $"{model}/{rank}";

    public static int RankOf(string rankKey)
    {
        int slash = rankKey.LastIndexOf('/');
        if (slash < 0 || !int.TryParse(rankKey.AsSpan(slash + 1), out int rank) || rank < 0)
            throw new FormatException($"'{rankKey}' is not a rank key of the form model/rank");
        return rank;
    }
}
