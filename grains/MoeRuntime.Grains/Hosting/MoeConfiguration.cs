using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Control.Prefetch;
using MoeRuntime.Grains.Prefetch;
using MoeRuntime.Grains.Telemetry;

namespace MoeRuntime.Grains.Hosting;

/// <summary>
/// The one configuration path. Every option is bound once from its section with <c>AddOptions&lt;T&gt;().Bind(...)</c>,
/// checked by its validator in <see cref="MoeOptionsValidation"/> and validated on start. The tree:
/// <list type="bullet">
/// <item><c>Moe</c> (<see cref="MoeSiloOptions"/>, with <c>Balancing</c>, <c>CostAwareRouting</c> and <c>Control</c>),
/// <c>Moe:Telemetry</c> (<see cref="TelemetryOptions"/>), <c>Moe:Control:Prefetch</c> (<see cref="PrefetchControlOptions"/>
/// and the library's <see cref="PrefetchControllerOptions"/>), <c>Moe:Security</c> (<see cref="MoeSecurityOptions"/>): <see cref="AddMoeOptions"/>;</item>
/// <item><c>Silo</c> (<see cref="SiloHostOptions"/>), <c>Telemetry</c> (<see cref="TelemetryHostOptions"/>) and the
/// top-level <c>--prompt</c> keys (<see cref="OneShotOptions"/>): <see cref="AddHostOptions"/>.</item>
/// </list>
/// </summary>
public static class MoeConfiguration
{
    /// <summary>Binds the <c>Moe</c> tree; <paramref name="configure"/> runs after binding and before validation.</summary>
    public static IServiceCollection AddMoeOptions(this IServiceCollection services, IConfiguration configuration, Action<MoeSiloOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        OptionsBuilder<MoeSiloOptions> moe = services.AddOptions<MoeSiloOptions>().Bind(configuration.GetSection(MoeSiloOptions.Section)).ValidateOnStart();
        if (configure is not null) moe.Configure(configure);
        services.AddReloadingMonitor<MoeSiloOptions>(MoeSiloOptions.Section);
        services.AddOptions<TelemetryOptions>().Bind(configuration.GetSection(TelemetryOptions.Section)).ValidateOnStart();
        services.AddOptions<PrefetchControlOptions>().Bind(configuration.GetSection(PrefetchControlOptions.Section)).ValidateOnStart();
        services.AddOptions<MoeSecurityOptions>().Bind(configuration.GetSection(MoeSecurityOptions.Section)).ValidateOnStart();
        // The policy's bounds live in the same section and bind straight onto the library's own record.
        services.AddOptions<PrefetchControllerOptions>().Bind(configuration.GetSection(PrefetchControlOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MoeSiloOptions>, MoeOptionsValidation.Moe>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TelemetryOptions>, MoeOptionsValidation.Telemetry>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PrefetchControlOptions>, MoeOptionsValidation.PrefetchLoop>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PrefetchControllerOptions>, MoeOptionsValidation.PrefetchPolicy>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MoeSecurityOptions>, MoeOptionsValidation.Security>());
        return services;
    }

    /// <summary>Binds the host's sections: <c>Silo</c>, <c>Telemetry</c> and the top-level <c>--prompt</c> keys.</summary>
    public static IServiceCollection AddHostOptions(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<SiloHostOptions>().Bind(configuration.GetSection(SiloHostOptions.Section)).ValidateOnStart();
        services.AddOptions<TelemetryHostOptions>().Bind(configuration.GetSection(TelemetryHostOptions.Section)).ValidateOnStart();
        services.AddReloadingMonitor<TelemetryHostOptions>(TelemetryHostOptions.Section);
        services.AddOptions<OneShotOptions>().Bind(configuration).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SiloHostOptions>, MoeOptionsValidation.Host>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TelemetryHostOptions>, MoeOptionsValidation.TelemetryHost>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OneShotOptions>, MoeOptionsValidation.OneShot>());
        return services;
    }

    /// <summary>
    /// Serves <see cref="IOptionsMonitor{TOptions}"/> of <typeparamref name="T"/> from a <see cref="ReloadingOptionsMonitor{TOptions}"/>:
    /// a reloaded configuration is validated and a bad edit refused with the old values kept (docs/configuration.md, "Live reload").
    /// </summary>
    static void AddReloadingMonitor<T>(this IServiceCollection services, string section) where T : class
    {
        services.TryAddSingleton(sp => new ReloadingOptionsMonitor<T>(sp.GetRequiredService<IOptionsFactory<T>>(),
            sp.GetServices<IOptionsChangeTokenSource<T>>(), section, sp.GetService<ILoggerFactory>()?.CreateLogger("MoeRuntime.Configuration")));
        services.TryAddSingleton<IOptionsMonitor<T>>(sp => sp.GetRequiredService<ReloadingOptionsMonitor<T>>());
    }

    /// <summary>The rank the <c>Moe</c> tree gives, for what Orleans needs as a value while the silo is being built.</summary>
    public static int Rank(IConfiguration configuration, Action<MoeSiloOptions>? configure = null)
    {
        var options = new MoeSiloOptions();
        configuration.GetSection(MoeSiloOptions.Section).Bind(options);
        configure?.Invoke(options);
        return options.Rank;
    }

    /// <summary>
    /// Validates every option registered with <c>ValidateOnStart</c>, as the host does when it starts.
    /// </summary>
    /// <exception cref="OptionsValidationException">Settings are out of range: its failures name every one.</exception>
    /// <exception cref="InvalidOperationException">A value could not be converted; the message names the key and why.</exception>
    public static void Validate(IServiceProvider services)
    {
        try
        {
            services.GetRequiredService<IStartupValidator>().Validate();
        }
        catch (AggregateException e) when (e.InnerExceptions.All(i => i is OptionsValidationException))
        {
            // Several sections wrong: one exception that names them all.
            OptionsValidationException first = (OptionsValidationException)e.InnerExceptions[0];
            throw new OptionsValidationException(first.OptionsName, first.OptionsType,
                [.. e.InnerExceptions.Cast<OptionsValidationException>().SelectMany(i => i.Failures)]);
        }
        catch (InvalidOperationException e) when (e.InnerException is { } cause)
        {
            // The binder names the key and the type; the converter says what the value should look like.
            throw new InvalidOperationException($"{e.Message} {cause.Message}", cause);
        }
    }

    /// <summary>
    /// The silo's start-up check, before anything is wired: binds and validates every option exactly as the host will,
    /// and returns the values the host needs while it is being built.
    /// </summary>
    /// <exception cref="OptionsValidationException">Settings are out of range: its failures name every one.</exception>
    /// <exception cref="InvalidOperationException">A value could not be converted; the message names the key.</exception>
    public static SiloSettings Check(IConfiguration configuration)
    {
        using ServiceProvider options = new ServiceCollection().AddMoeOptions(configuration).AddHostOptions(configuration).BuildServiceProvider();
        Validate(options);
        var settings = new SiloSettings(
            options.GetRequiredService<IOptions<MoeSiloOptions>>().Value,
            options.GetRequiredService<IOptions<SiloHostOptions>>().Value,
            options.GetRequiredService<IOptions<TelemetryHostOptions>>().Value,
            options.GetRequiredService<IOptions<OneShotOptions>>().Value)
        {
            Security = options.GetRequiredService<IOptions<MoeSecurityOptions>>().Value,
        };
        MoeOptionsValidation.Security.CheckBind(settings.Host, settings.Security);
        return settings;
    }
}

/// <summary>The validated options the silo's host reads while it is being built (ports, clustering, exporters, rank).</summary>
public sealed record SiloSettings(MoeSiloOptions Moe, SiloHostOptions Host, TelemetryHostOptions Telemetry, OneShotOptions OneShot)
{
    /// <summary>Section <c>Moe:Security</c>: TLS and who may call what.</summary>
    public MoeSecurityOptions Security { get; init; } = new();
}
