using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Telemetry.Security;

namespace MoeRuntime.FrontDoor;

/// <summary>Registers and maps the front door; the host registers an <see cref="IInferenceBackend"/>.</summary>
public static class FrontDoorExtensions
{
    /// <summary>Binds <see cref="FrontDoorOptions"/> from <paramref name="section"/> (validated at start) and the services.</summary>
    public static IServiceCollection AddFrontDoor(this IServiceCollection services, IConfiguration section)
    {
        services.AddOptions<FrontDoorOptions>().Bind(section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FrontDoorOptions>, FrontDoorOptionsValidator>());
        services.TryAddSingleton<TenantDirectory>();
        // A host with a cluster secret registers its keyed pseudonyms first; alone, the front door keys them per process.
        services.TryAddSingleton(_ => new TenantPseudonyms(null));
        services.TryAddSingleton<FrontDoorHandler>();
        return services;
    }

    /// <summary>Maps <c>GET /v1/models</c>, <c>POST /v1/completions</c> and <c>POST /v1/chat/completions</c> (unless disabled).</summary>
    public static IEndpointRouteBuilder MapOpenAiEndpoints(this IEndpointRouteBuilder endpoints)
    {
        IServiceProvider services = endpoints.ServiceProvider;
        if (!services.GetRequiredService<IOptions<FrontDoorOptions>>().Value.Enabled) return endpoints;
        if (services.GetRequiredService<TenantDirectory>().Open)
            FrontDoorLog.OpenAccess(services.GetRequiredService<ILoggerFactory>().CreateLogger<FrontDoorHandler>());
        // The handler (and the backend behind it, which may load a model) is resolved on the first request, not here.
        endpoints.MapGet("/v1/models", (HttpContext http) => Handler(http).ModelsAsync(http));
        endpoints.MapPost("/v1/completions", (HttpContext http) => Handler(http).CompleteAsync(http, chat: false));
        endpoints.MapPost("/v1/chat/completions", (HttpContext http) => Handler(http).CompleteAsync(http, chat: true));
        return endpoints;

        static FrontDoorHandler Handler(HttpContext http) => http.RequestServices.GetRequiredService<FrontDoorHandler>();
    }
}
