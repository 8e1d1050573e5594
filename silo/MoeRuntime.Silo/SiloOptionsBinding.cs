using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Hosting;

namespace MoeRuntime.Silo;

/// <summary>The silo's side of the one configuration path (<see cref="MoeConfiguration"/>).</summary>
static class SiloOptionsBinding
{
    /// <summary>
    /// Checks every option at once, before anything is wired (a mistake throws here: one line, exit code 2), and binds the
    /// host's sections for the services; the <c>Moe</c> tree is bound by <c>AddMoeRuntime</c>. Returns what wiring needs.
    /// </summary>
    public static SiloSettings AddSiloOptions(this WebApplicationBuilder builder)
    {
        SiloSettings settings = MoeConfiguration.Check(builder.Configuration);
        builder.Services.AddHostOptions(builder.Configuration);
        // The router's drain has its own deadline (Moe:DrainTimeout); the rest of the shutdown gets 10 s more.
        builder.Services.AddOptions<HostOptions>().Configure<IOptions<MoeSiloOptions>>((o, moe) => o.ShutdownTimeout = moe.Value.DrainTimeout + TimeSpan.FromSeconds(10));
        return settings;
    }
}
