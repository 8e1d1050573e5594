using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Guardrails;

/// <summary>
/// Settles which moves into one tier get its memory. Moves forced into the tier by an admitted change (an expert
/// displaced from hot lands in warm) take room first; then promotions, best value per byte first, take free room and
/// otherwise displace the tier's leavers, weakest first — but only if they beat every expert they displace by the
/// hysteresis ratio. Leavers nobody needed room from are releases; leavers kept for a promotion that lost stay put.
/// </summary>
static class TierContest
{
    /// <param name="room">Bytes free in the tier after the changes already admitted (may be negative).</param>
    /// <param name="forced">Moves into the tier that belong to admitted units; displacements join those units.</param>
    /// <param name="challengers">Promotions into the tier.</param>
    /// <param name="leavers">Demotions out of the tier.</param>
    public static void Run(
        Tier tier, double room, bool overBudget, double hysteresis,
        IReadOnlyList<(PlannedMove Move, MoveUnit Unit)> forced, List<PlannedMove> challengers, List<PlannedMove> leavers,
        List<MoveUnit> units, List<(PlannedMove Move, string Reason)> refused)
    {
        challengers.Sort((a, b) => Order(b.PerByte(tier), a.PerByte(tier), a, b));
        leavers.Sort((a, b) => Order(a.PerByte(tier), b.PerByte(tier), a, b));
        int next = 0;

        foreach (var (move, unit) in forced)
        {
            long need = move.Expert.Bytes(tier);
            while (room < need && next < leavers.Count)
            {
                unit.Moves.Add(leavers[next]);
                room += leavers[next++].Expert.Bytes(tier);
            }
            room -= need;
        }

        int keep = 0;
        foreach (PlannedMove challenger in challengers)
        {
            long need = challenger.Expert.Bytes(tier);
            double freed = room;
            int take = next;
            while (freed < need && take < leavers.Count)
                freed += leavers[take++].Expert.Bytes(tier);
            if (freed < need)
            {
                refused.Add((challenger, $"no room in the {TierNames.Of(tier)} budget: needs {need} bytes, {Math.Max(0, room):F0} free and too few releases planned"));
                continue;
            }
            if (take > next)
            {
                PlannedMove strongest = leavers[take - 1];
                if (challenger.PerByte(tier) < (1 + hysteresis) * strongest.PerByte(tier))
                {
                    refused.Add((challenger, $"hysteresis: worth {challenger.PerByte(tier):G3}/byte, not {hysteresis:P0} more than {strongest.Move.Expert} ({strongest.PerByte(tier):G3}/byte) it would displace"));
                    keep += take - next;
                    continue;
                }
            }
            var unit = new MoveUnit(UnitKind.Promotion, tier, challenger.PerByte(tier), challenger);
            for (int i = next; i < take; i++) unit.Moves.Add(leavers[i]);
            units.Add(unit);
            room = freed - need;
            next = take;
        }

        int releases = Math.Max(0, leavers.Count - next - keep);
        for (int i = next; i < leavers.Count; i++)
        {
            if (i < next + releases)
                units.Add(new MoveUnit(overBudget ? UnitKind.RestoreBudget : UnitKind.Release, tier, -leavers[i].PerByte(tier), leavers[i]));
            else
                refused.Add((leavers[i], $"hysteresis: kept in {TierNames.Of(tier)}, the promotion it was to make room for did not beat it"));
        }
    }

    static int Order(double first, double second, PlannedMove a, PlannedMove b)
    {
        int byValue = first.CompareTo(second);
        return byValue != 0 ? byValue : string.CompareOrdinal(a.Move.Expert.ToString(), b.Move.Expert.ToString());
    }
}
