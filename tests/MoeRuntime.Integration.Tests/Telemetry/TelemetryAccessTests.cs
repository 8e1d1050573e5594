using System.Net;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>
/// /metrics, a JSON view, the router's status and the dashboard refuse a missing or wrong credential with 401, serve
/// the token in each accepted form (the query string only on the dashboard), and count every refusal in
/// moe_telemetry_access_denials_total by endpoint.
/// </summary>
public sealed class TelemetryAccessTests(TelemetrySilo silo) : IClassFixture<TelemetrySilo>
{
    const string WrongToken = "not-the-telemetry-token";
    const string Denials = "moe_telemetry_access_denials_total";

    /// <summary>A path of each protected endpoint and the label its denials carry.</summary>
    public static TheoryData<string, string> Endpoints => new()
    {
        { "/metrics", "metrics" },
        { "/v1/telemetry/summary?window=1m", "views" },
        { "/v1/router", "views" },
        { "/dashboard", "dashboard" },
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task MissingOrWrongCredentialsAre401AndCountedTheTokenIsServed(string path, string endpoint)
    {
        double before = (await silo.ScrapeAsync()).Sum(Denials, ("endpoint", endpoint));

        await AssertStatus(HttpStatusCode.Unauthorized, path, header: null);
        await AssertStatus(HttpStatusCode.Unauthorized, path, "Authorization", WrongToken);
        await AssertStatus(HttpStatusCode.Unauthorized, path, "X-Api-Key", WrongToken);
        await AssertStatus(HttpStatusCode.Unauthorized, Query(path, WrongToken), header: null);
        // A token in a URL ends up in histories and proxy logs: only the page a browser opens takes one.
        bool queryTaken = endpoint == "dashboard";
        if (!queryTaken) await AssertStatus(HttpStatusCode.Unauthorized, Query(path, TelemetrySilo.Token), header: null);
        int refused = queryTaken ? 4 : 5;

        await AssertStatus(HttpStatusCode.OK, path, "Authorization");
        await AssertStatus(HttpStatusCode.OK, path, "X-Api-Key");
        if (queryTaken) await AssertStatus(HttpStatusCode.OK, Query(path, TelemetrySilo.Token), header: null);

        double after = (await silo.ScrapeAsync()).Sum(Denials, ("endpoint", endpoint));
        Assert.Equal(refused, after - before);
    }

    async Task AssertStatus(HttpStatusCode expected, string path, string? header, string token = TelemetrySilo.Token)
    {
        using HttpResponseMessage response = await silo.GetAsync(path, header, token);
        Assert.True(expected == response.StatusCode, $"GET {path} with {header ?? "no header"} ({(token == TelemetrySilo.Token ? "right" : "wrong")} token): {(int)response.StatusCode}, expected {(int)expected}");
        if (expected == HttpStatusCode.Unauthorized) Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    static string Query(string path, string token) => path + (path.Contains('?') ? "&" : "?") + "token=" + Uri.EscapeDataString(token);
}
