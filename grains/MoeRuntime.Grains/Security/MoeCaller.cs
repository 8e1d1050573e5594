using MoeRuntime.Security;

namespace MoeRuntime.Grains.Security;

/// <summary>
/// Who made the grain call being served, as the role filter established it from the connection's proofs, never from a
/// name in the message. <see cref="Silo"/> is the calling silo when the call came from a silo's own services.
/// </summary>
public sealed record MoeCaller(MoeRole Role, string Identity, SiloAddress? Silo)
{
    static readonly AsyncLocal<MoeCaller?> Ambient = new();

    /// <summary>The caller of the grain call running on this flow; <c>null</c> outside one (timers, start-up).</summary>
    public static MoeCaller? Current
    {
        get => Ambient.Value;
        internal set => Ambient.Value = value;
    }

    /// <summary>
    /// The author to record for a change: the authenticated identity of an external caller; for a silo's own code
    /// (controllers, balancer), the name that code gives, since it is not typed by anyone outside.
    /// </summary>
    public static string Author(string claimed)
    {
        MoeCaller? caller = Current;
        if (caller is null || caller.Role == MoeRole.Internal) return string.IsNullOrWhiteSpace(claimed) ? "internal" : claimed;
        return caller.Identity;
    }
}
