using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Telemetry.Security;

namespace MoeRuntime.Grains.Diagnostics;

/// <summary>The rank's one <see cref="TenantPseudonyms"/>, keyed by <c>Moe:Telemetry:PseudonymKey</c>.</summary>
public static partial class TenantPrivacy
{
    public static TenantPseudonyms Pseudonyms(IServiceProvider services)
    {
        var pseudonyms = new TenantPseudonyms(services.GetRequiredService<IOptions<TelemetryOptions>>().Value.PseudonymKey);
        if (pseudonyms.IsEphemeral) EphemeralKey(services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(TenantPrivacy).FullName!));
        return pseudonyms;
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "No Moe:Telemetry:PseudonymKey configured: tenant pseudonyms in logs and spans use a key of this process only and differ between ranks and restarts")]
    static partial void EphemeralKey(ILogger logger);
}
