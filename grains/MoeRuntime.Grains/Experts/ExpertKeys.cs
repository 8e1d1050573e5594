using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Experts;

/// <summary>Grain keys of experts and rank-bound grains, in one place so placement and callers agree.</summary>
public static class ExpertKeys
{
    public static string Of(string model, int layer, int expert) => new ExpertKey(model, layer, expert).ToString();

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
