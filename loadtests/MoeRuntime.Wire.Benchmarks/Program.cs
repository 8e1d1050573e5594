using MoeRuntime.Wire.Benchmarks;

// moe-wire codec [--iterations N]            old against new payload codec, median of N per case
// moe-wire accuracy [--tokens N] [--threads T]           greedy agreement, max |logit| error and mean KL, float16/bfloat16 against float32
// moe-wire relay --route LISTEN:TARGET ... --delay-ms D [--seconds S]   loopback TCP relay adding D ms one way
// moe-wire relay-probe [--delay-ms D]... [--messages N] [--bytes B] [--stream-mib M]   round trips through the relay, checked
string mode = args.Length > 0 ? args[0] : "";
string[] rest = args.Skip(1).ToArray();
try
{
    return mode switch
    {
        "codec" => CodecBenchmark.Run(rest),
        "accuracy" => await AccuracyRun.RunAsync(rest),
        "relay" => await DelayRelay.RunAsync(rest),
        "relay-probe" => await RelayProbe.RunAsync(rest),
        _ => Usage(),
    };
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"moe-wire {mode}: {e.Message}");
    return 2;
}

static int Usage()
{
    Console.Error.WriteLine("usage: moe-wire codec [--iterations N] | accuracy [--tokens N] | relay --route LISTEN_PORT:TARGET_PORT... --delay-ms D [--seconds S] | relay-probe [--delay-ms D]... [--messages N] [--bytes B] [--stream-mib M]");
    return 2;
}
