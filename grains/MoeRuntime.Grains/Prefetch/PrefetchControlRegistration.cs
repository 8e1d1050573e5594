using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace MoeRuntime.Grains.Prefetch;

public static class PrefetchControlRegistration
{
    /// <summary>Binds <see cref="PrefetchControlOptions"/> from <c>Moe:Control:Prefetch</c> and adds the routers' settings cache.</summary>
    public static ISiloBuilder AddPrefetchControl(this ISiloBuilder builder)
    {
        IConfigurationSection section = builder.Configuration.GetSection(PrefetchControlOptions.Section);
        // Checked now, so a mistake stops the silo at start-up rather than the controller grain at its activation.
        var configured = new PrefetchControlOptions();
        section.Bind(configured);
        configured.ToControllerOptions();
        builder.Services.Configure<PrefetchControlOptions>(o => section.Bind(o));
        builder.Services.AddSingleton<PrefetchSettingsCache>();
        return builder;
    }
}
