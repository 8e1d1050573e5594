using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Planning;

/// <summary>
/// What a promotion must clear besides the latency controller's ranking: the cost controller's side of the band that
/// keeps the two from undoing each other. The cost controller demotes an expert whose tier costs more than a lower one;
/// a promotion into that tier at the same demand would be demoted again the same interval.
/// </summary>
public interface IPromotionFloor
{
    /// <summary>True when <paramref name="expert"/>, promoted into <paramref name="to"/> at <paramref name="uses"/> per interval, would stay there.</summary>
    bool Admits(ExpertState expert, Tier to, double uses, ControlInput input);
}
