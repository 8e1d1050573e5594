using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

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
        services.TryAddSingleton<FrontDoorHandler>();
        return services;
    }

    /// <summary>Maps <c>GET /v1/models</c>, <c>POST /v1/completions</c> and <c>POST /v1/chat/completions</c> (unless disabled).</summary>
    public static IEndpointRouteBuilder MapOpenAiEndpoints(this IEndpointRouteBuilder endpoints)
    {
        if (!endpoints.ServiceProvider.GetRequiredService<IOptions<FrontDoorOptions>>().Value.Enabled) return endpoints;
        FrontDoorHandler handler = endpoints.ServiceProvider.GetRequiredService<FrontDoorHandler>();
        endpoints.MapGet("/v1/models", handler.ModelsAsync);
        endpoints.MapPost("/v1/completions", (HttpContext http) => handler.CompleteAsync(http, chat: false));
        endpoints.MapPost("/v1/chat/completions", (HttpContext http) => handler.CompleteAsync(http, chat: true));
        return endpoints;
    }
}
