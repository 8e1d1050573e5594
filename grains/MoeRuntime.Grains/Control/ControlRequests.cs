using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Control;

/// <summary>Reads what operators send the tier controllers; bad input is an <see cref="MoeErrorCode.InvalidRequest"/> naming what is wrong.</summary>
static class ControlRequests
{
    /// <summary>A tier by name (hot, warm, cold, any case); numerals are refused.</summary>
    public static Tier Tier(string? text) =>
        TierNames.TryParse(text, out Tier tier) ? tier : throw new MoeRequestException(MoeErrorCode.InvalidRequest, TierNames.ProblemWith(text));
}
