using TorchSharp;

namespace HeadWise.Runtime;

/// <summary>One place that starts libtorch and sets its threads, so errors name the cause.</summary>
public static class Torch
{
    private static bool _started;
    private static readonly object Gate = new();

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
                    $": {e.Message}. Rebuild the project so that build/NativeCompat.targets can run.", e);
            }
            int threads = int.TryParse(Environment.GetEnvironmentVariable("HEADWISE_THREADS"), out var t) && t > 0
                ? t : Environment.ProcessorCount;
            torch.set_num_threads(threads);
            _started = true;
        }
    }

    public static int Threads => torch.get_num_threads();
}
