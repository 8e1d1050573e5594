using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Guardrails;

/// <summary>A move that passed screening, with the expert it moves.</summary>
readonly record struct PlannedMove(TierMove Move, ExpertState Expert)
{
    /// <summary>The move's value per byte the expert takes in <paramref name="tier"/>.</summary>
    public double PerByte(Tier tier) => Move.Value / Expert.Bytes(tier);

    /// <summary>Bytes the move adds to <paramref name="tier"/> (negative when it frees them).</summary>
    public long NetBytes(Tier tier) =>
        (Move.To == tier ? Expert.Bytes(tier) : 0) - (Move.From == tier ? Expert.Bytes(tier) : 0);
}
