using MoeRuntime.Model.Configuration;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Control;

/// <summary>Reads what operators send the tier controllers; bad input is an <see cref="MoeErrorCode.InvalidRequest"/> naming what is wrong.</summary>
static class ControlRequests
{
    /// <summary>An expert key of <paramref name="model"/> within its layers and experts.</summary>
    public static ExpertKey Expert(string text, string model, ModelConfig config)
    {
        ExpertKey key;
        try
        {
            key = ExpertKey.Parse(text);
        }
        catch (Exception e) when (e is FormatException or ArgumentNullException)
        {
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, e.Message);
        }
        if (key.Model != model || (uint)key.Layer >= (uint)config.LayerCount || (uint)key.Expert >= (uint)config.ExpertCount)
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"expert {key} is not an expert of model {model}");
        return key;
    }

    /// <summary>A tier by name (hot, warm, cold, any case); numerals are refused.</summary>
    public static Tier Tier(string? text) =>
        TierNames.TryParse(text, out Tier tier) ? tier : throw new MoeRequestException(MoeErrorCode.InvalidRequest, TierNames.ProblemWith(text));
}
