using TorchSharp;

namespace HeadWise.Runtime;

/// <summary>One place that starts libtorch and sets its threads, so errors name the cause.</summary>
public static class Torch
{
    private static bool _started;
    private static readonly object Gate = new();

    /// <summary>Loads libtorch once (naming the cause when it cannot) and sets its threads from HEADWISE_THREADS (default: all cores).</summary>
    public static void EnsureStarted()
    {
        if (_started) return;
        lock (Gate)
        {
            if (_started) return;
            try
            {
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e)
            {
                throw new HeadWiseException(
                    "libtorch could not be loaded" + (NativeCompat.ShimError is { } s ? $" (libstdc++ shim: {s})" : "") +
                    $": {e.Message}. On Linux with an older libstdc++ the build patches TorchSharp's library (build/NativeCompat.targets; " +
                    "buildTransitive/HeadWise.Core.targets in the package): rebuild the app, and reference a libtorch backend package (libtorch-cpu-linux-x64)", e);
            }
            int threads = int.TryParse(Environment.GetEnvironmentVariable("HEADWISE_THREADS"), out var t) && t > 0
                ? t : Environment.ProcessorCount;
            torch.set_num_threads(threads);
            _started = true;
        }
    }

    /// <summary>libtorch's intra-op threads.</summary>
    public static int Threads => torch.get_num_threads();
}
