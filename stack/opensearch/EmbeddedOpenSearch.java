import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.opensearch.Version;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.PluginInfo;

/**
 * A single-node OpenSearch for the local stack, started from the Maven Central jars (no
 * distribution archive is published there). The Netty 4 module, which serves HTTP and the
 * transport, is loaded from the classpath.
 *
 * usage: EmbeddedOpenSearch HOME HTTP_PORT TRANSPORT_PORT
 */
public final class EmbeddedOpenSearch {
  private static final class LocalNode extends Node {
    LocalNode(Environment environment, Collection<PluginInfo> classpathPlugins) {
      super(environment, classpathPlugins, true);
    }
  }

  public static void main(String[] args) throws Exception {
    Path home = Path.of(args[0]).toAbsolutePath();
    Files.createDirectories(home.resolve("config"));
    Path yml = home.resolve("config/opensearch.yml");
    if (!Files.exists(yml)) Files.writeString(yml, "");
    Settings settings = Settings.builder()
        .put("path.home", home.toString())
        .put("path.data", home.resolve("data").toString())
        .put("path.logs", home.resolve("logs").toString())
        .put("cluster.name", "otel-lakehouse-local")
        .put("node.name", "local")
        .put("discovery.type", "single-node")
        .put("network.host", "127.0.0.1")
        .put("http.port", args[1])
        .put("transport.port", args[2])
        .put("cluster.routing.allocation.disk.threshold_enabled", false)
        .build();
    Environment environment = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), home.resolve("config"), () -> "local");
    PluginInfo netty = new PluginInfo("transport-netty4", "Netty 4 transport and HTTP", Version.CURRENT.toString(), Version.CURRENT,
        "21", "org.opensearch.transport.Netty4ModulePlugin", List.of(), false);
    Node node = new LocalNode(environment, List.of(netty));
    node.start();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        node.close();
      } catch (Exception e) {
        // the process is ending either way
      }
    }));
    Thread.currentThread().join();
  }
}
