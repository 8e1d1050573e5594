namespace MoeRuntime.Integration.Tests;

/// <summary>One rank's silo process and the ports it listens on.</summary>
sealed record SiloRank(int Rank, ChildProcess Process, int SiloPort, int GatewayPort, int HttpPort);
