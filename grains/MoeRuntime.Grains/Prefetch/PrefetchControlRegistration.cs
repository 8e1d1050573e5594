using Microsoft.Extensions.DependencyInjection;

namespace MoeRuntime.Grains.Prefetch;

public static class PrefetchControlRegistration
{
    /// <summary>
    /// Adds the routers' prefetch settings cache; <see cref="PrefetchControlOptions"/> and the policy's bounds are bound
    /// and checked with the rest of the <c>Moe</c> tree (<see cref="Hosting.MoeConfiguration"/>).
    /// </summary>
    public static ISiloBuilder AddPrefetchControl(this ISiloBuilder builder)
    {
        builder.Services.AddSingleton<PrefetchSettingsCache>();
        return builder;
    }
}
