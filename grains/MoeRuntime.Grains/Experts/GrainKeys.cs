using System.Globalization;
using MoeRuntime.Model.Configuration;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Experts;

/// <summary>
/// Grain keys of experts (default and replica) and of rank-bound grains, in one place so placement and callers agree,
/// and the one reading of an expert key a caller sends.
/// </summary>
public static class GrainKeys
{
    /// <summary>The expert's default grain: <c>model/layer/expert</c>, placed on its round-robin owner among the live ranks.</summary>
    public static string Expert(string model, int layer, int expert) => new ExpertKey(model, layer, expert).ToString();

    /// <summary>
    /// A replica pinned to one rank: <c>model/layer/expert@rank</c>. The rank in the key makes placement a
    /// lookup (no call to the placement map while activating) and gives each replica its own activation.
    /// </summary>
    public static string Replica(string model, int layer, int expert, int rank) => $"{Expert(model, layer, expert)}@{rank}";

    /// <summary>Reads an expert grain key, default (<c>model/layer/expert</c>) or pinned replica (<c>model/layer/expert@rank</c>).</summary>
    /// <exception cref="FormatException">Not an expert grain key.</exception>
    public static (ExpertKey Expert, int? Rank) ParseExpert(string grainKey)
    {
        ArgumentNullException.ThrowIfNull(grainKey);
        int at = grainKey.LastIndexOf('@');
        if (at < 0 || at < grainKey.LastIndexOf('/')) return (ExpertKey.Parse(grainKey), null);
        if (!int.TryParse(grainKey.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int rank))
            throw new FormatException($"'{grainKey}' is not a replica key: the rank after '@' is not a non-negative integer");
        return (ExpertKey.Parse(grainKey[..at]), rank);
    }

    /// <summary>Key of a grain bound to one rank of one model: <c>model/rank</c>.</summary>
    public static string Rank(string model, int rank) => $"{model}/{rank}";

    /// <summary>The rank in a rank-bound grain's key (<c>model/rank</c>).</summary>
    /// <exception cref="FormatException">Not a rank key.</exception>
    public static int RankOf(string rankKey)
    {
        int slash = rankKey.LastIndexOf('/');
        if (slash < 0 || !int.TryParse(rankKey.AsSpan(slash + 1), out int rank) || rank < 0)
            throw new FormatException($"'{rankKey}' is not a rank key of the form model/rank");
        return rank;
    }

    /// <summary>
    /// An expert key (<c>model/layer/expert</c>) a caller sent, which must name an expert of <paramref name="model"/>
    /// within its layers and experts.
    /// </summary>
    /// <exception cref="MoeRequestException"><see cref="MoeErrorCode.InvalidRequest"/>, naming what is wrong.</exception>
    public static ExpertKey ExpertOfModel(string? text, string model, ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        if (text is null) throw new MoeRequestException(MoeErrorCode.InvalidRequest, "no expert key given (model/layer/expert)");
        ExpertKey key;
        try
        {
            key = ExpertKey.Parse(text);
        }
        catch (FormatException e)
        {
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, e.Message);
        }
        if (key.Model != model || (uint)key.Layer >= (uint)config.LayerCount || (uint)key.Expert >= (uint)config.ExpertCount)
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"expert {key} is not an expert of model {model}");
        return key;
    }
}
