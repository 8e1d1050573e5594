using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Loop;

/// <summary>What a guarded plan writes into a TierSet version: the experts' new tiers and the reason kept with the version.</summary>
public static class TierWrites
{
    /// <summary>Expert key to tier name (hot, warm, cold), as a TierSet update names them.</summary>
    public static Dictionary<string, string> Tiers(IEnumerable<TierMove> moves)
    {
        ArgumentNullException.ThrowIfNull(moves);
        return moves.ToDictionary(m => m.Expert.ToString(), m => TierNames.Of(m.To));
    }

    /// <summary>One line for the version's history: the moves counted by direction and the controller's own reason.</summary>
    public static string Reason(TierPlan admitted)
    {
        ArgumentNullException.ThrowIfNull(admitted);
        int up = admitted.Moves.Count(m => m.IsPromotion), down = admitted.Moves.Count - up;
        string why = admitted.Decisions.FirstOrDefault(d => d.Controller == admitted.Controller && d.Rank == admitted.Rank)?.Reason ?? "";
        return $"{admitted.Controller} controller: {up} promotions, {down} demotions" + (why.Length > 0 ? $" ({why})" : "");
    }
}
