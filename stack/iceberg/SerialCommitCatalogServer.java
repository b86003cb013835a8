package org.apache.iceberg.rest;

import java.lang.reflect.Method;
import java.util.Map;
import org.apache.iceberg.util.PropertyUtil;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.gzip.GzipHandler;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;

/**
 * Apache Iceberg's REST catalog server (the iceberg-open-api test fixture), with its changes
 * made one at a time.
 *
 * The fixture checks a transaction's requirements against the table it loaded, then commits
 * each table through a BaseTransaction. When another request changed the table in between,
 * the JDBC compare-and-swap fails and BaseTransaction retries against the refreshed metadata,
 * but it re-applies only PendingUpdates, and the fixture applied the request's updates
 * directly: the retry commits the refreshed metadata unchanged and the request is answered
 * 200. Two appender replicas committing at once could so lose one commit, or half of one.
 * Holding one lock around every request that changes the catalog leaves nothing to retry.
 * Reads run side by side.
 *
 * Configured like the fixture (CATALOG_* environment variables); CATALOG_REST_HOST (default
 * 127.0.0.1) and CATALOG_REST_PORT (default 8181) say where it listens.
 */
public final class SerialCommitCatalogServer {
  private SerialCommitCatalogServer() {}

  public static void main(String[] args) throws Exception {
    RESTCatalogServer fixture = new RESTCatalogServer();
    Method init = RESTCatalogServer.class.getDeclaredMethod("initializeBackendCatalog");
    init.setAccessible(true);
    RESTCatalogServer.CatalogContext context = (RESTCatalogServer.CatalogContext) init.invoke(fixture);
    Object lock = new Object();
    RESTCatalogAdapter adapter =
        new RESTServerCatalogAdapter(context) {
          @Override
          public <T extends RESTResponse> T handleRequest(
              Route route, Map<String, String> vars, Object body, Class<T> responseType) {
            if (route.method() == HTTPRequest.HTTPMethod.GET || route.method() == HTTPRequest.HTTPMethod.HEAD) {
              return super.handleRequest(route, vars, body, responseType);
            }
            synchronized (lock) {
              return super.handleRequest(route, vars, body, responseType);
            }
          }
        };

    ServletContextHandler handler = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
    handler.addServlet(new ServletHolder(new RESTCatalogServlet(adapter)), "/*");
    handler.insertHandler(new GzipHandler());
    int port = PropertyUtil.propertyAsInt(context.configuration(), RESTCatalogServer.REST_PORT, 8181);
    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost(context.configuration().getOrDefault("rest.host", "127.0.0.1"));
    connector.setPort(port);
    server.addConnector(connector);
    server.setHandler(handler);
    server.start();
    System.out.println("REST catalog listening on " + connector.getHost() + ":" + port + " (changes serialized)");
    server.join();
  }
}
