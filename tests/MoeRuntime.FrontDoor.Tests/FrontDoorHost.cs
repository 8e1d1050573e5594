using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MoeRuntime.FrontDoor.Tests;

/// <summary>The front door on a TestServer over a <see cref="FakeBackend"/>.</summary>
sealed class FrontDoorHost : IAsyncDisposable
{
    public const string Key = "sk-test-key";

    readonly WebApplication _app;

    FrontDoorHost(WebApplication app, FakeBackend backend)
    {
        _app = app;
        Backend = backend;
        Client = app.GetTestClient();
        Client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Key);
    }

    public FakeBackend Backend { get; }
    public HttpClient Client { get; }

    /// <summary>Starts with <c>Moe:FrontDoor:ApiKey</c> = <see cref="Key"/> unless <paramref name="settings"/> say otherwise.</summary>
    public static async Task<FrontDoorHost> StartAsync(FakeBackend? backend = null, Dictionary<string, string?>? settings = null)
    {
        backend ??= new FakeBackend();
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?> { ["Moe:FrontDoor:ApiKey"] = Key });
        builder.Services.AddSingleton<IInferenceBackend>(backend);
        builder.Services.AddFrontDoor(builder.Configuration.GetSection(FrontDoorOptions.Section));
        WebApplication app = builder.Build();
        app.MapOpenAiEndpoints();
        await app.StartAsync();
        return new FrontDoorHost(app, backend);
    }

    public Task<HttpResponseMessage> PostAsync(string path, string json, CancellationToken cancellationToken = default) =>
        Client.PostAsync(path, new StringContent(json, System.Text.Encoding.UTF8, "application/json"), cancellationToken);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.DisposeAsync();
    }
}
